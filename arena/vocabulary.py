"""Every allowed value, said once: the schema's constraints, the API's types and the page's
choices are derived from these enums, so a new value is added here and nowhere else.

`Modality` belongs to the generator protocol (workers speak it too, and `generators`
never imports `arena`), so it is re-exported from there.
"""

from __future__ import annotations

from enum import StrEnum

from generators.protocol import Modality


class Winner(StrEnum):
    """A vote's outcome (LMArena's labels): a tie is half a win each; both_bad a tie unless excluded."""

    MODEL_A = "model_a"
    MODEL_B = "model_b"
    TIE = "tie"
    BOTH_BAD = "both_bad"


class Dimension(StrEnum):
    """What a vote judges; images after MPS, 3D after 3DGen-Bench. Each has its own board."""

    OVERALL = "overall"
    AESTHETICS = "aesthetics"
    ALIGNMENT = "alignment"
    DETAIL = "detail"
    GEOMETRY = "geometry"
    TEXTURE = "texture"


DIMENSIONS: dict[Modality, tuple[Dimension, ...]] = {
    Modality.TEXT: (Dimension.OVERALL,),
    Modality.IMAGE: (Dimension.OVERALL, Dimension.AESTHETICS, Dimension.ALIGNMENT, Dimension.DETAIL),
    Modality.THREE_D: (Dimension.OVERALL, Dimension.GEOMETRY, Dimension.TEXTURE, Dimension.ALIGNMENT),
}


class BattleStatus(StrEnum):
    GENERATING = "generating"
    READY = "ready"
    FAILED = "failed"


class BattleMode(StrEnum):
    """Anonymous battles rank; named (side-by-side) battles are stored but never ranked."""

    ANONYMOUS = "anonymous"
    NAMED = "named"


class Side(StrEnum):
    A = "a"
    B = "b"


class InvalidReason(StrEnum):
    """Why a stored vote does not count; a vote is never silently dropped."""

    IDENTITY_LEAK = "identity_leak"
    TOO_FAST = "too_fast"  # cast sooner after both outputs were complete than anyone could read them
    QUARANTINED = "quarantined"  # the voter was flagged by fraud detection; reversible
    BANNED = "banned"  # an operator banned the voter
    WITHDRAWN = "withdrawn"  # an operator took the voter's votes off the boards


class VoteSource(StrEnum):
    """Where a vote came from. Only live votes meet vote-time checks (rate, dwell, limits)."""

    LIVE = "live"
    SIMULATE = "simulate"
    IMPORT = "import"
    BULK = "bulk"


class ModelStatus(StrEnum):
    """pending -> probing -> active | rejected; active <-> disabled; retired: history only."""

    ACTIVE = "active"
    DISABLED = "disabled"
    PENDING = "pending"
    PROBING = "probing"
    REJECTED = "rejected"
    RETIRED = "retired"  # imported: on boards with its history, never in new battles


class ModelOrigin(StrEnum):
    """Who put a model in the database: the models file only ever updates its own."""

    FILE = "file"
    SUBMISSION = "submission"
    IMPORT = "import"


class FlagState(StrEnum):
    """A flagged voter's state: quarantined by default, then released or banned by an operator."""

    FLAGGED = "flagged"  # flagged while quarantine is off: listed for review, the votes still count
    QUARANTINED = "quarantined"
    RELEASED = "released"
    BANNED = "banned"


class DisabledBy(StrEnum):
    """Who disabled a model; a state set by anyone but the models file survives restarts."""

    OPERATOR = "operator"
    HEALTH = "health"
    TRUST = "trust"
    FILE = "file"


class AdminAction(StrEnum):
    """What the admin audit log records (an open list: later flows add theirs, no migration needed)."""

    QUARANTINE = "quarantine"  # by the detector (actor "detector")
    RELEASE = "release"
    BAN = "ban"
    DISABLE_MODEL = "disable_model"
    ENABLE_MODEL = "enable_model"
    APPROVE_SUBMISSION = "approve_submission"
    REJECT_SUBMISSION = "reject_submission"


class GroupField(StrEnum):
    """Sub-boards a voter can pick: the prompt's category or language, or one field of the voter profile."""

    CATEGORY = "category"
    AGE_BAND = "age_band"
    GENDER = "gender"
    COUNTRY = "country"
    FIRST_LANGUAGE = "first_language"
    EXPERTISE = "expertise"
    LANGUAGE = "language"  # the prompt's detected language (battles.language), not the voter's


def one_of(enum: type[StrEnum]) -> str:
    """'a, b, c': the allowed values, for error messages."""
    return ", ".join(member.value for member in enum)


def sql_in(column: str, enum: type[StrEnum]) -> str:
    """A CHECK constraint's text that admits exactly the enum's values."""
    return f"{column} IN ({', '.join(repr(member.value) for member in enum)})"


__all__ = [
    "DIMENSIONS",
    "AdminAction",
    "BattleMode",
    "BattleStatus",
    "Dimension",
    "DisabledBy",
    "FlagState",
    "GroupField",
    "InvalidReason",
    "Modality",
    "ModelOrigin",
    "ModelStatus",
    "Side",
    "VoteSource",
    "Winner",
    "one_of",
    "sql_in",
]
