"""What changed, announced once after commit; the boards (and later fraud scoring) listen.

Side effects by subscription, not at every caller: the vote path, the battle service
and the voter service publish; whoever needs to know subscribes. An event is
published only after its transaction committed, so a listener never sees a change
that was rolled back. This bus is in-process; replicas share events through Redis
(issue #11) behind the same two methods.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable
from dataclasses import dataclass
from typing import Protocol

from arena.vocabulary import BattleStatus, Dimension, Modality, VoteSource

log = logging.getLogger("arena.events")

BoardSlice = tuple[Modality, Dimension]


@dataclass(frozen=True)
class VotesRecorded:
    boards: frozenset[BoardSlice]
    votes: int
    source: VoteSource


@dataclass(frozen=True)
class VotesInvalidated:
    """Votes left the boards (valid -> invalid) or came back (`restored`)."""

    boards: frozenset[BoardSlice]
    votes: int
    restored: bool = False


@dataclass(frozen=True)
class BattleFinished:
    battle_id: str
    modality: Modality
    status: BattleStatus


@dataclass(frozen=True)
class VoterProfileChanged:
    voter_id: str


Event = VotesRecorded | VotesInvalidated | BattleFinished | VoterProfileChanged
Handler = Callable[[Event], None]


class EventBus(Protocol):
    def subscribe(self, handler: Handler) -> None:
        """Call `handler` with every later event; it must be quick (mark, queue, wake)."""

    def publish(self, event: Event) -> None:
        """Deliver `event` to every subscriber; a failing subscriber is logged, never raised."""


class LocalBus:
    """Subscribers in this process, called in the publishing thread."""

    def __init__(self) -> None:
        self._handlers: list[Handler] = []
        self._lock = threading.Lock()

    def subscribe(self, handler: Handler) -> None:
        with self._lock:
            self._handlers = [*self._handlers, handler]

    def publish(self, event: Event) -> None:
        for handler in self._handlers:
            try:
                handler(event)
            except Exception:  # a listener's bug must not fail the vote that was already committed
                log.exception("event handler failed on %s", type(event).__name__)
