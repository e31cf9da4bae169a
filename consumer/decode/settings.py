"""Settings of decoding (section ``schemas``): a schema registry, or a local writer schema per topic."""

from __future__ import annotations

from pathlib import Path
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field


class RegistrySettings(BaseModel):
    model_config = ConfigDict(extra="forbid")

    url: str = Field(min_length=1)


class TopicSchemaSettings(BaseModel):
    model_config = ConfigDict(extra="forbid")

    format: Literal["confluent", "avro"] = "confluent"
    writer_schema: Path | None = None
    reader_schema: Path | None = None


class DecodeSettings(BaseModel):
    model_config = ConfigDict(extra="forbid")

    registry: RegistrySettings | None = None
    topics: dict[str, TopicSchemaSettings] = Field(default_factory=dict)
