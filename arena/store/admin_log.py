"""The admin audit log: one row per admin action (who, what, on what, when, details).

`log_action` takes the caller's session, so the row commits with the change it records
or not at all. The actor is a name ("admin", "detector"), never a credential.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from arena.store.engine import Store
from arena.store.flags import utc
from arena.store.schema import AdminLogEntry


@dataclass(frozen=True)
class ActionRecord:
    id: int
    at: datetime
    actor: str
    action: str
    target: str
    details: dict[str, Any]


def log_action(session: Session, actor: str, action: str, target: str, details: dict[str, Any]) -> None:
    session.add(AdminLogEntry(at=datetime.now(UTC), actor=actor, action=action, target=target, details=details))


def list_actions(
    store: Store, limit: int = 100, before: int | None = None, target: str | None = None
) -> list[ActionRecord]:
    """The log, newest first; `before` pages back (the last id of the previous page)."""
    query = select(AdminLogEntry).order_by(AdminLogEntry.id.desc()).limit(limit)
    if before is not None:
        query = query.where(AdminLogEntry.id < before)
    if target is not None:
        query = query.where(AdminLogEntry.target == target)
    with store.read() as session:
        return [
            ActionRecord(row.id, utc(row.at), row.actor, row.action, row.target, dict(row.details or {}))
            for row in session.scalars(query)
        ]
