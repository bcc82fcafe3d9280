"""The models table: seeded from the models file; public names, display metadata, status."""
from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy import select

from arena.store.engine import Store
from arena.store.schema import Model
from arena.vocabulary import Modality, ModelStatus
from generators import ModelEntry


def sync_models(store: Store, entries: list[ModelEntry]) -> None:
    """Upsert every entry; models that left the file are disabled, never deleted (votes keep them)."""
    by_name = {entry.name: entry for entry in entries}
    with store.write() as session:
        existing = {model.name: model for model in session.scalars(select(Model))}
        for name, entry in by_name.items():
            model = existing.get(name) or Model(name=name)
            model.modality = entry.modality
            model.backend = entry.backend
            # options hold no secrets: remote keys are referenced by env-variable *name*
            model.options = entry.options.model_dump(mode="json")
            model.organisation = entry.display.organisation
            model.license = entry.display.license
            model.open_weights = entry.display.open_weights
            model.parameters = entry.display.parameters
            model.output_format = entry.display.output_format
            model.weight = entry.weight
            model.status = entry.status
            session.add(model)
        for name, model in existing.items():
            if name not in by_name and model.status == ModelStatus.ACTIVE:
                model.status = ModelStatus.DISABLED


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


def list_models(store: Store, modality: Modality | None = None) -> list[PublicModel]:
    query = select(Model).order_by(Model.modality, Model.name)
    if modality:
        query = query.where(Model.modality == modality)
    with store.read() as session:
        return [
            PublicModel(
                model.name, Modality(model.modality), ModelStatus(model.status), model.organisation,
                model.license, model.open_weights, model.parameters, model.output_format,
            )
            for model in session.scalars(query)
        ]


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
