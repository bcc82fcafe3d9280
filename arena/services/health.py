"""Health of remote models: consecutive failures counted in the models table, shared by
every replica; a model is disabled at the threshold and enabled again when a check passes.

Only remote models (the openai backend: authors' endpoints, vLLM, TGI, workers) are
judged: an in-process model that fails is a bug to fix, not an endpoint to rest. A
success costs a database write only when the model had failures to clear. The health
job (arena/jobs/health.py) checks active remote models and the ones health disabled.
"""

from __future__ import annotations

import logging
from datetime import UTC, datetime

from sqlalchemy import select

from arena.settings import Settings
from arena.store.admin_log import log_action
from arena.store.engine import Store
from arena.store.schema import Model, Submission
from arena.vocabulary import AdminAction, DisabledBy, ModelStatus

log = logging.getLogger("arena.health")
ACTOR = "health"
REMOTE = "openai"
KEPT_ERRORS = 10


class Health:
    def __init__(self, store: Store, settings: Settings):
        self.store = store
        self.settings = settings
        self._failing: set[str] = set()  # models this process saw fail since their last success

    async def failed(self, name: str, detail: str) -> None:
        """A battle or a check of `name` failed; `detail` is the operator-side message (key scrubbed)."""
        self._failing.add(name)
        await self.store.run_write(self._failed, name, detail)

    async def passed(self, name: str, *, checked: bool = False) -> None:
        """A battle (or, with `checked`, a health check) of `name` succeeded."""
        if name in self._failing or checked:
            self._failing.discard(name)
            await self.store.run_write(self._passed, name, checked)

    def _failed(self, name: str, detail: str) -> None:
        with self.store.atomic(), self.store.write() as session:
            model = session.scalars(select(Model).where(Model.name == name).with_for_update()).one_or_none()
            if model is None or model.backend != REMOTE:
                return
            model.failures = (model.failures or 0) + 1
            submission = session.scalar(select(Submission).where(Submission.model_name == name))
            if submission is not None:  # the author's status page shows recent failures
                entry = {"at": datetime.now(UTC).isoformat(), "error": detail[:600]}
                submission.errors = [*(submission.errors or [])[-(KEPT_ERRORS - 1) :], entry]
            if model.status == ModelStatus.ACTIVE and model.failures >= self.settings.health_failures:
                model.status, model.disabled_by = ModelStatus.DISABLED, DisabledBy.HEALTH
                model.disabled_reason = f"{model.failures} consecutive failures; the last: {detail[:300]}"
                log_action(
                    session, ACTOR, AdminAction.DISABLE_MODEL, name, {"by": "health", "failures": model.failures}
                )
                log.warning("disabled %s after %d consecutive failures: %s", name, model.failures, detail)

    def _passed(self, name: str, checked: bool) -> None:
        with self.store.atomic(), self.store.write() as session:
            model = session.scalars(select(Model).where(Model.name == name).with_for_update()).one_or_none()
            if model is None:
                return
            model.failures = 0
            if checked and model.status == ModelStatus.DISABLED and model.disabled_by == DisabledBy.HEALTH:
                model.status, model.disabled_by, model.disabled_reason = ModelStatus.ACTIVE, None, None
                log_action(session, ACTOR, AdminAction.ENABLE_MODEL, name, {"by": "health"})
                log.warning("enabled %s again: its health check passed", name)


def checked_models(store: Store) -> list[str]:
    """Remote models the health job checks: active ones, and those health disabled."""
    with store.read() as session:
        query = select(Model.name).where(Model.backend == REMOTE)
        active = Model.status == ModelStatus.ACTIVE
        rested = (Model.status == ModelStatus.DISABLED) & (Model.disabled_by == DisabledBy.HEALTH)
        return list(session.scalars(query.where(active | rested).order_by(Model.name)))
