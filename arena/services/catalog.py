"""The models table mirrors the models file: public names, display metadata, status."""
from __future__ import annotations

from sqlalchemy import select

from arena.store.engine import Store
from arena.store.schema import Model
from generators import ModelEntry

PUBLIC_FIELDS = ("name", "modality", "organisation", "license", "open_weights", "parameters", "output_format")


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
            if name not in by_name and model.status == "active":
                model.status = "disabled"


def list_models(store: Store, modality: str | None = None) -> list[dict]:
    query = select(Model).order_by(Model.modality, Model.name)
    if modality:
        query = query.where(Model.modality == modality)
    with store.read() as session:
        return [
            {**{name: getattr(model, name) for name in PUBLIC_FIELDS}, "status": model.status}
            for model in session.scalars(query)
        ]
