"""The destination-fault policy: when a refused destination's events stop holding and go to the dead-letter topic."""

from __future__ import annotations

import pytest

from consumer.sending.destinations import DestinationFaultPolicy, FaultAction
from consumer.sending.settings import TikTokSettings

POLICY = DestinationFaultPolicy(dead_letter=True, after_s=900.0, healthy_window_s=120.0)

# (failing since, last delivery to another destination, now) -> action
TABLE = [
    pytest.param(0.0, 950.0, 1000.0, FaultAction.DEAD_LETTER, id="failing-long-others-delivered-recently"),
    pytest.param(0.0, 900.0, 900.0, FaultAction.DEAD_LETTER, id="exactly-at-the-limit"),
    pytest.param(500.0, 990.0, 1000.0, FaultAction.HOLD, id="failing-shorter-than-the-limit"),
    pytest.param(0.0, None, 1000.0, FaultAction.HOLD, id="no-other-destination-ever-delivered"),
    pytest.param(0.0, 500.0, 1000.0, FaultAction.HOLD, id="others-last-delivered-before-the-window-global"),
    pytest.param(0.0, 880.0, 1000.0, FaultAction.DEAD_LETTER, id="others-delivered-at-the-window-edge"),
    pytest.param(0.0, 879.0, 1000.0, FaultAction.HOLD, id="others-delivered-just-outside-the-window"),
]


@pytest.mark.parametrize(("since", "other", "now", "action"), TABLE)
def test_policy_table(since: float, other: float | None, now: float, action: FaultAction) -> None:
    """Dead-letter only a destination failing for after_s while another one was delivered in the healthy window."""
    assert POLICY.decide(failing_since_s=since, last_other_delivery_s=other, now_s=now) is action


def test_hold_policy_never_dead_letters() -> None:
    """destination_fault: hold keeps the old behaviour, however long and however healthy the others are."""
    hold = DestinationFaultPolicy(dead_letter=False, after_s=1.0, healthy_window_s=120.0)
    assert hold.decide(failing_since_s=0.0, last_other_delivery_s=1e6, now_s=1e6) is FaultAction.HOLD


def test_policy_reads_its_settings() -> None:
    """The sender's settings carry the behaviour, the time and the healthy window; the default dead-letters after
    15 minutes while another destination was delivered in the last 2 minutes."""
    assert DestinationFaultPolicy.from_settings(TikTokSettings()) == POLICY
    custom = TikTokSettings(destination_fault="hold", destination_fault_after_s=60, destination_healthy_window_s=30)
    assert DestinationFaultPolicy.from_settings(custom) == DestinationFaultPolicy(False, 60.0, 30.0)
