"""The one exponential backoff formula (the sender's retries, the decode hold and the durable writes use it)."""

from __future__ import annotations

import pytest

from consumer.backoff import exponential_backoff


@pytest.mark.parametrize(("failures", "delay"), [(1, 0.5), (2, 1.0), (3, 2.0), (6, 16.0), (7, 30.0), (5_000, 30.0)])
def test_the_wait_doubles_per_failure_from_the_base_up_to_the_cap(failures: int, delay: float) -> None:
    assert exponential_backoff(failures, 0.5, 30.0) == delay
