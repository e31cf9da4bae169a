"""The fault suite's ledger: every produced event_id must end delivered, dead-lettered or audited.

Pure: the chaos runner collects the ids (from the producer, the sandbox, the dead-letter and audit topics) and
this module joins them. ``lost`` is what the service promises is always 0.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable
from dataclasses import dataclass


@dataclass(frozen=True, slots=True)
class Accounting:
    """The outcome counts of one scenario, by unique event_id.

    ``duplicates`` counts every record beyond the first for an id across the three destinations (a redelivery after
    a crash, or an event both delivered and dead-lettered); TikTok's dedup by event_id absorbs redeliveries.
    ``foreign`` counts ids that arrived somewhere but were never produced (a bench bug, expected 0).
    ``withdrawn`` counts ids that must never reach TikTok (their subject withdrew consent before they could be sent)
    and ``leaked`` those of them TikTok received anyway (expected 0).
    ``pii_hits`` counts the emails and phones the sandbox saw in request bodies (expected 0).
    """

    scenario: str
    produced: int
    delivered: int
    dead_lettered: int
    audited: int
    duplicates: int
    lost: int
    foreign: int
    withdrawn: int = 0
    leaked: int = 0
    pii_hits: int = 0
    problems: int = 0  # failed checks of the scenario's own (e.g. a replay that did not deliver)

    @property
    def ok(self) -> bool:
        return self.lost == 0 and self.foreign == 0 and self.leaked == 0 and self.pii_hits == 0 and self.problems == 0

    def line(self) -> str:
        """One printable line: ``scenario=... produced=... ... lost=0``."""
        fields = (
            f"produced={self.produced}",
            f"delivered={self.delivered}",
            f"dead_lettered={self.dead_lettered}",
            f"audited={self.audited}",
            f"duplicates={self.duplicates}",
            f"lost={self.lost}",
            f"pii_hits={self.pii_hits}",
        )
        extra: tuple[str, ...] = (f"foreign={self.foreign}",) if self.foreign else ()
        if self.withdrawn:
            extra += (f"withdrawn={self.withdrawn}", f"leaked={self.leaked}")
        extra += (f"problems={self.problems}",) if self.problems else ()
        return f"{self.scenario:<16} " + " ".join((*fields, *extra))


def account(
    scenario: str,
    produced: Iterable[str],
    delivered: Iterable[str],
    dead_lettered: Iterable[str],
    audited: Iterable[str],
    *,
    redelivered: int = 0,
    forbidden: Iterable[str] = (),
    pii_hits: int = 0,
) -> Accounting:
    """Join the produced ids with the three places an event can end, counting each id once per place.

    ``redelivered`` adds repeats a destination counted but does not list (the sandbox lists each accepted id once
    and counts the repeats it deduplicated). ``forbidden`` ids must not be among the delivered."""
    produced_ids = set(produced)
    places = [Counter(delivered), Counter(dead_lettered), Counter(audited)]
    settled = set().union(*places)
    records = sum(sum(place.values()) for place in places)
    return Accounting(
        scenario=scenario,
        produced=len(produced_ids),
        delivered=len(places[0]),
        dead_lettered=len(places[1]),
        audited=len(places[2]),
        duplicates=records - len(settled) + redelivered,
        lost=len(produced_ids - settled),
        foreign=len(settled - produced_ids),
        withdrawn=len(set(forbidden)),
        leaked=len(set(forbidden) & set(places[0])),
        pii_hits=pii_hits,
    )
