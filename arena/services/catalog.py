"""The models table: seeded from the models file; public names, display metadata, status.

Who disabled a model is recorded (vocabulary.DisabledBy). The file governs only its own
entries' configuration and the states it set itself: a model an operator, a health
check or the trust layer disabled stays disabled across restarts whatever the file
says, and only an operator (or whoever disabled it) enables it again. A model the file
disabled (its status, or its entry removed) is the file's to enable: an operator edits
the file.
"""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy import select
from sqlalchemy.orm import Session

from arena.errors import Conflict, NotFound
from arena.services.endpoints import Endpoint
from arena.store.admin_log import log_action
from arena.store.engine import Store
from arena.store.schema import Model, Submission
from arena.vocabulary import AdminAction, DisabledBy, Modality, ModelOrigin, ModelStatus
from generators import ModelEntry

LEFT_THE_FILE = "no longer in the models file"
DISABLED_IN_FILE = "disabled in the models file"


def sync_models(store: Store, entries: list[ModelEntry]) -> None:
    """Upsert every entry; models that left the file are disabled, never deleted (votes keep them).

    Only the file's own models (origin "file") are touched: a submitted or imported model
    is never updated, disabled or re-enabled by the file, even under the same name.

    A status set by anyone but the file (an operator, a health check, the trust layer)
    is kept; the entry's configuration is updated all the same.
    """
    by_name = {entry.name: entry for entry in entries}
    with store.write() as session:
        existing = {model.name: model for model in session.scalars(select(Model))}
        for name, entry in by_name.items():
            model = existing.get(name) or Model(name=name)
            if model.origin not in (None, ModelOrigin.FILE):
                continue  # a submitted or imported model of the same name is not the file's to change
            model.modality = entry.modality
            model.backend = entry.backend
            # options hold no secrets: remote keys are referenced by env-variable *name*
            model.options = entry.options.model_dump(mode="json")
            model.organisation = entry.display.organisation
            model.license = entry.display.license
            model.open_weights = entry.display.open_weights
            model.parameters = entry.display.parameters
            model.output_format = entry.display.output_format
            model.description = entry.display.description
            model.url = entry.display.url
            model.weight = entry.weight
            if model.status != ModelStatus.DISABLED or model.disabled_by in (None, DisabledBy.FILE):
                _set_status(model, ModelStatus(entry.status), DisabledBy.FILE, DISABLED_IN_FILE)
            session.add(model)
        for name, model in existing.items():
            if name not in by_name and model.status == ModelStatus.ACTIVE and model.origin == ModelOrigin.FILE:
                _set_status(model, ModelStatus.DISABLED, DisabledBy.FILE, LEFT_THE_FILE)


def _set_status(model: Model, status: ModelStatus, by: DisabledBy, reason: str) -> None:
    model.status = status
    disabled = status == ModelStatus.DISABLED
    model.disabled_by = by if disabled else None
    model.disabled_reason = reason if disabled else None


@dataclass(frozen=True)
class ModelState:
    """A model as an operator sees it: its status and, when disabled, who disabled it and why."""

    name: str
    modality: Modality
    status: ModelStatus
    disabled_reason: str | None
    disabled_by: DisabledBy | None

    @classmethod
    def of(cls, model: Model) -> ModelState:
        return cls(
            model.name,
            Modality(model.modality),
            ModelStatus(model.status),
            model.disabled_reason,
            DisabledBy(model.disabled_by) if model.disabled_by else None,
        )


def disable_model(store: Store, name: str, reason: str, by: DisabledBy, actor: str) -> ModelState:
    """Take a model out of new battles at once (the sampler reads the table per battle);
    its votes stay on the boards. Logged. Raises NotFound."""
    with store.atomic(), store.write() as session:
        model = _locked(session, name)
        before = ModelStatus(model.status)
        _set_status(model, ModelStatus.DISABLED, by, reason)
        log_action(
            session, actor, AdminAction.DISABLE_MODEL, name, {"reason": reason, "by": str(by), "from": str(before)}
        )
        session.flush()
        return ModelState.of(model)


def enable_model(store: Store, name: str, actor: str) -> ModelState:
    """Put a disabled model back into new battles. Logged. Raises NotFound, or Conflict
    when the models file disabled it (the file decides its own entries: edit it)."""
    with store.atomic(), store.write() as session:
        model = _locked(session, name)
        if model.status == ModelStatus.DISABLED and model.disabled_by == DisabledBy.FILE:
            raise Conflict(f"{name} is {model.disabled_reason or DISABLED_IN_FILE}: change the models file")
        before = ModelStatus(model.status)
        details = {"from": str(before), "was_disabled_by": model.disabled_by, "reason": model.disabled_reason}
        _set_status(model, ModelStatus.ACTIVE, DisabledBy.OPERATOR, "")
        log_action(session, actor, AdminAction.ENABLE_MODEL, name, details)
        session.flush()
        return ModelState.of(model)


def _locked(session: Session, name: str) -> Model:
    model = session.scalars(select(Model).where(Model.name == name).with_for_update()).one_or_none()
    if model is None:
        raise NotFound("no such model")
    return model


@dataclass(frozen=True)
class PublicModel:
    """What anyone may know about a model (never its backend, options or endpoint)."""

    name: str
    modality: Modality
    status: ModelStatus
    organisation: str | None
    license: str | None
    open_weights: bool | None
    parameters: str | None
    output_format: str | None
    description: str | None = None
    url: str | None = None


def list_models(store: Store, modality: Modality | None = None) -> list[PublicModel]:
    query = select(Model).order_by(Model.modality, Model.name)
    if modality:
        query = query.where(Model.modality == modality)
    with store.read() as session:
        return [
            PublicModel(
                model.name,
                Modality(model.modality),
                ModelStatus(model.status),
                model.organisation,
                model.license,
                model.open_weights,
                model.parameters,
                model.output_format,
                model.description,
                model.url,
            )
            for model in session.scalars(query)
        ]


def active_endpoints(store: Store, modality: Modality) -> tuple[dict[str, float], list[Endpoint]]:
    """Active models of a modality with their sampling weights, and the endpoints of those
    that came from submissions (one query: the sampler asks once per battle)."""
    query = (
        select(Model.name, Model.weight, Model.options, Submission)
        .outerjoin(Submission, Submission.model_name == Model.name)
        .where(Model.modality == modality, Model.status == ModelStatus.ACTIVE)
    )
    weights: dict[str, float] = {}
    endpoints: list[Endpoint] = []
    with store.read() as session:
        for name, weight, options, submission in session.execute(query):
            weights[name] = weight
            if submission is not None:
                endpoints.append(endpoint_of(submission, modality, options))
    return weights, endpoints


def submitted_endpoint(store: Store, *, name: str | None = None, submission_id: str | None = None) -> Endpoint | None:
    """A submitted model's endpoint, by model name or submission id (None: no such submission)."""
    query = select(Submission, Model.modality, Model.options).join(Model, Model.name == Submission.model_name)
    query = query.where(Model.name == name) if name is not None else query.where(Submission.id == submission_id)
    with store.read() as session:
        row = session.execute(query).one_or_none()
        return None if row is None else endpoint_of(row[0], Modality(row[1]), row[2])


def endpoint_of(submission: Submission, modality: Modality, options: dict) -> Endpoint:
    return Endpoint(
        name=submission.model_name,
        modality=Modality(modality),
        base_url=submission.base_url,
        remote_model=submission.remote_model,
        api_key=submission.api_key,
        allow_private=bool(options.get("allow_private")),
        changed_at=submission.updated_at,
    )


def active_models(store: Store, modality: Modality) -> dict[str, float]:
    """Active models of a modality with their sampling weights."""
    with store.read() as session:
        rows = session.execute(
            select(Model.name, Model.weight).where(Model.modality == modality, Model.status == ModelStatus.ACTIVE)
        ).all()
    return {name: weight for name, weight in rows}


def display_metadata(store: Store, modality: Modality) -> dict[str, dict[str, str | None]]:
    """Organisation and licence per model name, for leaderboard rows."""
    with store.read() as session:
        rows = session.execute(
            select(Model.name, Model.organisation, Model.license).where(Model.modality == modality)
        ).all()
    return {name: {"organisation": organisation, "license": license} for name, organisation, license in rows}
