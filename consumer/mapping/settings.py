"""Settings of routes and mappings (section ``routes``)."""

from __future__ import annotations

from pydantic import BaseModel, ConfigDict, Field


class RouteSettings(BaseModel):
    model_config = ConfigDict(extra="forbid")

    name: str = Field(min_length=1)
    topic: str = Field(min_length=1)
