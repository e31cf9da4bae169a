"""The destination-fault policy, pure: when a destination's configuration fault stops holding its events.

A destination (one ``event_source_id``) whose token or permission TikTok refuses is held: its events stay
unsettled and are retried slowly. Its events sit in every partition, so holding them also holds every partition's
watermark, and with it the commits of every healthy destination. When the fault has lasted ``after_s`` while
another destination was delivered in the last ``healthy_window_s``, the fault is that destination's alone: its
events are dead-lettered under their own reason (replayable once the token is fixed) and every partition commits
again. When no other destination is being delivered, the fault may be global (a shared token revoked, TikTok
refusing everything): it is held, however long it lasts, and never floods the dead-letter topic.
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum

from consumer.sending.settings import TikTokSettings


class FaultAction(StrEnum):
    """What the sender does with a job whose destination TikTok refuses."""

    HOLD = "hold"  # retry slowly; the events stay unsettled
    DEAD_LETTER = "dead_letter"  # settle the events as dead-lettered (reason ``destination_auth_failed``)


@dataclass(frozen=True, slots=True)
class DestinationFaultPolicy:
    """``dead_letter`` False: always hold (the behaviour before this policy existed)."""

    dead_letter: bool
    after_s: float
    healthy_window_s: float

    @classmethod
    def from_settings(cls, settings: TikTokSettings) -> DestinationFaultPolicy:
        return cls(
            settings.destination_fault == "dead_letter",
            settings.destination_fault_after_s,
            settings.destination_healthy_window_s,
        )

    def decide(self, *, failing_since_s: float, last_other_delivery_s: float | None, now_s: float) -> FaultAction:
        """The action for a destination refused since ``failing_since_s``; ``last_other_delivery_s`` is the latest
        delivery to any other destination (None: none yet)."""
        if not self.dead_letter or now_s - failing_since_s < self.after_s:
            return FaultAction.HOLD
        others_healthy = last_other_delivery_s is not None and now_s - last_other_delivery_s <= self.healthy_window_s
        return FaultAction.DEAD_LETTER if others_healthy else FaultAction.HOLD
