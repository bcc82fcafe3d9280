"""Statistical detection of anomalous and rigging voters on a votes table.

:func:`audit` tests every voter (and every group of voter ids behind one ``ip_hash`` or
voting in lockstep) against the consensus board with anytime-valid e-processes, and
returns an :class:`AuditReport` of :class:`VoterFlag` (voter, score, reasons) and
:class:`GroupFlag`. Options in :class:`AuditOptions`. :func:`simulate_arena` builds
arenas with honest voters and attackers of known kinds. ``arena audit`` /
``python -m ranking.fraud`` come from :func:`add_audit_parser`.

Importing this package (or :mod:`ranking.fraud.cli`) loads no numpy, pandas or scipy;
the numerical modules load on first use of a name that needs them.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from ..lazy import lazy_exports
from .options import AuditOptions
from .report import AuditReport, GroupFlag, VoterFlag

if TYPE_CHECKING:
    from .audit import audit
    from .cli import add_audit_parser, audit_command
    from .simulate import ATTACK_KINDS, ArenaOptions, Attack, AttackKind, Simulation, simulate_arena

_LAZY = {
    "audit": "audit",
    "add_audit_parser": "cli",
    "audit_command": "cli",
    "simulate_arena": "simulate",
    "ArenaOptions": "simulate",
    "Attack": "simulate",
    "AttackKind": "simulate",
    "Simulation": "simulate",
    "ATTACK_KINDS": "simulate",
}

__all__ = [
    "audit",
    "AuditOptions",
    "AuditReport",
    "VoterFlag",
    "GroupFlag",
    "add_audit_parser",
    "audit_command",
    "simulate_arena",
    "ArenaOptions",
    "Attack",
    "AttackKind",
    "Simulation",
    "ATTACK_KINDS",
]


__getattr__, __dir__ = lazy_exports(__name__, globals(), _LAZY)
