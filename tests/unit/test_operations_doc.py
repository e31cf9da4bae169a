"""docs/operations.md documents every key of the sections it covers, so the reference cannot fall behind."""

from __future__ import annotations

from pathlib import Path

import pytest
from pydantic import BaseModel

from consumer.consent_table.settings import ConsentTableSettings
from consumer.deadletter.settings import DeadLetterSettings
from consumer.kafka.settings import KafkaSettings
from consumer.observability.settings import ObservabilitySettings

DOC = (Path(__file__).resolve().parents[2] / "docs" / "operations.md").read_text()


@pytest.mark.parametrize("model", [KafkaSettings, DeadLetterSettings, ObservabilitySettings, ConsentTableSettings])
def test_every_setting_has_a_row(model: type[BaseModel]) -> None:
    """Each field of the section's settings model appears as a table row in docs/operations.md."""
    missing = [name for name in model.model_fields if f"| `{name}` |" not in DOC]
    assert missing == []
