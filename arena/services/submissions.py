"""Model authors' submissions: checked, stored with the key encrypted, probed, decided.

An author POSTs an OpenAI-compatible endpoint and gets a token, shown once; the SHA-256
of the token is stored, and the token (as `Authorization: Bearer`) opens the author's
status page and later updates. A submission with a valid token joins that author's
others, which is what the per-author limit counts.

Life of a submitted model (its row in `models`): probing -> pending (probe passed,
waiting for an operator; or probe failed, with the reason) -> active (approved) or
rejected; an update probes it again; a withdrawal retires it (its votes stay on the
boards' history). Every outbound call goes through the pinned address guard
(generators.net_guard), at submission and at every connection.
"""

from __future__ import annotations

import asyncio
import hashlib
import hmac
import logging
import re
import secrets
import uuid
from dataclasses import dataclass, field, fields
from datetime import UTC, datetime
from typing import Any
from urllib.parse import urlsplit

from sqlalchemy import func, or_, select
from sqlalchemy.orm import Session

from arena.errors import Conflict, Forbidden, InvalidInput, NotFound, TooManyRequests
from arena.services.catalog import submitted_endpoint
from arena.services.endpoints import build_endpoint, key_box
from arena.services.probe import probe
from arena.settings import Settings
from arena.store.admin_log import log_action
from arena.store.engine import Store
from arena.store.schema import Battle, Model, Submission, Vote
from arena.vocabulary import AdminAction, Modality, ModelOrigin, ModelStatus
from generators.config import NAME_PATTERN
from generators.net_guard import BlockedAddressError, check_url

log = logging.getLogger("arena.submissions")

EMAIL = re.compile(r"^[^@\s<>]{1,64}@[A-Za-z0-9.-]{1,190}\.[A-Za-z]{2,24}$")
WAITING = (ModelStatus.PROBING, ModelStatus.PENDING)
PROBE_PASSED = "the probe passed: waiting for an operator's approval"
PROBE_INTERRUPTED = "the probe was interrupted (the server restarted): it runs again"
KEPT_ERRORS = 10
# field -> largest length; the API's model bounds the same, these hold for every caller
LIMITS = {
    "name": 100,
    "base_url": 500,
    "model": 200,
    "api_key": 500,
    "contact": 254,
    "organisation": 200,
    "license": 100,
    "parameters": 100,
    "description": 2000,
}


@dataclass(frozen=True)
class SubmissionForm:
    """What an author sends (the API's JSON fields)."""

    name: str
    modality: str
    base_url: str
    model: str
    contact: str
    organisation: str
    api_key: str | None = None
    license: str | None = None
    open_weights: bool | None = None
    parameters: str | None = None
    description: str | None = None


@dataclass
class SubmissionView:
    """A submission as its author (and an operator) sees it: never the key, only whether there is one."""

    id: str
    name: str
    modality: Modality
    status: ModelStatus
    reason: str | None
    base_url: str
    model: str
    has_api_key: bool
    contact: str
    organisation: str | None
    license: str | None
    open_weights: bool | None
    parameters: str | None
    description: str | None
    probe: dict[str, Any] | None
    probed_at: datetime | None
    errors: list[dict[str, Any]]
    created_at: datetime
    updated_at: datetime
    battles: int = 0
    failed_battles: int = 0
    votes: int = 0
    board: dict[str, Any] | None = field(default=None)  # its row on the overall board, once ranked


def author_of(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


class Submissions:
    """Submission flows for the API and the page; probes run as tasks of this process."""

    def __init__(self, store: Store, settings: Settings):
        self.store = store
        self.settings = settings
        self._probes: dict[str, asyncio.Task] = {}

    # -- authors ----------------------------------------------------------------

    async def submit(self, form: SubmissionForm, token: str | None, ip_hash: str | None) -> tuple[SubmissionView, str]:
        """Check, store and start probing a submission; returns it and the author's token
        (the one given, if valid, else a new one). Raises InvalidInput, Conflict, TooManyRequests."""
        trusted = self._check(form)
        await self._check_address(form.base_url, trusted)
        author = author_of(token) if token else None
        if author is not None and not await self.store.run(self._known_author, author):
            raise Forbidden("that author token is not known here: submit without it to get a new one")
        if token is None:
            token = secrets.token_urlsafe(32)
            author = author_of(token)
        assert author is not None
        cipher = key_box(self.settings).encrypt(form.api_key.encode()).decode() if form.api_key else None
        view = await self.store.run_write(self._insert, form, author, ip_hash, cipher, trusted)
        self.probe_soon(view.id)
        return view, token

    async def status(self, submission_id: str, token: str) -> SubmissionView:
        """The author's view. Raises NotFound for an unknown id or a token that is not its author's
        (the same answer: a token says nothing about others' submissions)."""
        return await self.store.run(self._view, submission_id, author_of(token))

    async def update(self, submission_id: str, token: str, changes: dict[str, Any]) -> SubmissionView:
        """Change the endpoint or the card (not the name or modality), then probe again.
        A rejected or retired model cannot come back this way. Raises NotFound, InvalidInput, Conflict."""
        author = author_of(token)
        current = await self.store.run(self._view, submission_id, author)
        merged: dict[str, Any] = {f.name: getattr(current, f.name, None) for f in fields(SubmissionForm)}
        merged.update(name=current.name, modality=current.modality.value, model=current.model, api_key=None)
        merged.update({key: value for key, value in changes.items() if key in merged})
        form = SubmissionForm(**merged)
        trusted = self._check(form)
        if "base_url" in changes:
            await self._check_address(form.base_url, trusted)
        cipher = None
        if form.api_key:
            cipher = key_box(self.settings).encrypt(form.api_key.encode()).decode()
        view = await self.store.run_write(
            self._change, submission_id, author, form, cipher, "api_key" in changes, trusted
        )
        self.probe_soon(view.id)
        return view

    async def withdraw(self, submission_id: str, token: str) -> SubmissionView:
        """Out of new battles for good; its votes stay on the boards' history."""
        return await self.store.run_write(self._withdraw, submission_id, author_of(token))

    # -- operators ----------------------------------------------------------------

    async def listing(self, status: ModelStatus | None = None) -> list[SubmissionView]:
        return await self.store.run(self._list, status)

    async def get(self, submission_id: str) -> SubmissionView:
        return await self.store.run(self._view, submission_id, None)

    async def approve(self, submission_id: str, actor: str) -> SubmissionView:
        """Into battles at once (every replica reads the models table). Raises Conflict unless
        it waits for a decision with a passed probe."""
        return await self.store.run_write(self._decide, submission_id, actor, None)

    async def reject(self, submission_id: str, reason: str, actor: str) -> SubmissionView:
        return await self.store.run_write(self._decide, submission_id, actor, reason)

    async def reprobe(self, submission_id: str) -> SubmissionView:
        view = await self.store.run_write(self._set_probing, submission_id)
        self.probe_soon(submission_id)
        return view

    # -- probes -------------------------------------------------------------------

    def probe_soon(self, submission_id: str) -> None:
        running = self._probes.get(submission_id)
        if running is not None and not running.done():
            running.cancel()
        task = asyncio.create_task(self.run_probe(submission_id), name=f"probe-{submission_id}")
        self._probes[submission_id] = task
        task.add_done_callback(
            lambda done: self._probes.pop(submission_id, None) if self._probes.get(submission_id) is done else None
        )

    async def probed(self, submission_id: str) -> None:
        """Wait for a running probe of the submission, if any (tests, the CLI)."""
        running = self._probes.get(submission_id)
        if running is not None:
            await asyncio.gather(running, return_exceptions=True)

    async def run_probe(self, submission_id: str) -> dict[str, Any]:
        """Probe the endpoint and record the result; the model waits (pending) either way."""
        endpoint = await self.store.run(submitted_endpoint, self.store, submission_id=submission_id)
        if endpoint is None:
            raise NotFound("no such submission")
        try:
            generator = build_endpoint(endpoint, self.settings, timeout_s=self.settings.generation_timeout_s)
        except ValueError as exc:
            result: dict[str, Any] = {"ok": False, "results": [], "error": str(exc)}
        else:
            try:
                await generator.load()
                result = await probe(generator, endpoint.modality, self.settings.generation_timeout_s)
            finally:
                await generator.close()
        await self.store.run_write(self._record_probe, submission_id, result)
        log.info("probed submission %s (%s): %s", submission_id, endpoint.name, "passed" if result["ok"] else "failed")
        return result

    async def resume(self) -> None:
        """At start: probes a restart interrupted run again."""
        for submission_id in await self.store.run(self._probing):
            self.probe_soon(submission_id)

    async def stop(self) -> None:
        tasks = list(self._probes.values())
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)

    # -- checks ------------------------------------------------------------------

    def _check(self, form: SubmissionForm) -> bool:
        """Every field's form; returns whether the URL's host is one the operator trusts."""
        for name, limit in LIMITS.items():
            value = getattr(form, name)
            if isinstance(value, str) and len(value) > limit:
                raise InvalidInput(f"{name} must be at most {limit} characters")
        if not NAME_PATTERN.match(form.name):
            raise InvalidInput(
                "name must be 1-100 characters: letters, digits and . _ : / + - (starting with a letter or digit)"
            )
        try:
            Modality(form.modality)
        except ValueError:
            raise InvalidInput("modality must be one of: text, image, 3d") from None
        if not form.model.strip() or any(ch.isspace() or not ch.isprintable() for ch in form.model):
            raise InvalidInput("model must be the endpoint's model id: printable, no spaces")
        if not EMAIL.match(form.contact):
            raise InvalidInput("contact must be an e-mail address")
        if not form.organisation.strip():
            raise InvalidInput("organisation must not be empty")
        if form.api_key is not None and (not form.api_key or not form.api_key.isprintable()):
            raise InvalidInput("api_key must be printable text (or left out)")
        if form.api_key and self.settings.secret_kept:
            raise InvalidInput(
                "this arena does not accept API keys: its operator has not set ARENA_SECRET_KEY "
                "(keys are encrypted with it); submit an endpoint that needs no key, or ask the operator"
            )
        parts = urlsplit(form.base_url)
        host = (parts.hostname or "").lower()
        trusted = host in self.settings.trusted_hosts
        if parts.scheme != "https" and not (parts.scheme == "http" and trusted):
            raise InvalidInput("base_url must be an https:// URL (http only for hosts this arena's operator trusts)")
        if not host or parts.username or parts.password or parts.query or parts.fragment:
            raise InvalidInput("base_url must be scheme://host[:port][/path], with no user, query or fragment")
        return trusted

    async def _check_address(self, url: str, trusted: bool) -> None:
        try:
            await check_url(url, allow_private=trusted)
        except BlockedAddressError as exc:
            raise InvalidInput(f"base_url is refused: {exc}") from None

    # -- SQL (on the store's threads) ---------------------------------------------

    def _known_author(self, author: str) -> bool:
        with self.store.read() as session:
            return session.scalar(select(Submission.id).where(Submission.author == author).limit(1)) is not None

    def _insert(
        self, form: SubmissionForm, author: str, ip_hash: str | None, cipher: str | None, trusted: bool
    ) -> SubmissionView:
        with self.store.atomic(), self.store.write() as session:
            if session.scalar(select(Model.id).where(func.lower(Model.name) == form.name.lower())) is not None:
                raise Conflict(f"a model named {form.name} already exists: choose another name")
            self._check_limits(session, author, ip_hash, form.organisation)
            session.add(
                Model(
                    name=form.name,
                    modality=form.modality,
                    backend="openai",
                    options={"base_url": form.base_url, "model": form.model, "allow_private": trusted},
                    organisation=form.organisation.strip(),
                    license=form.license,
                    open_weights=form.open_weights,
                    parameters=form.parameters,
                    description=form.description,
                    weight=1.0,
                    status=ModelStatus.PROBING,
                    origin=ModelOrigin.SUBMISSION,
                )
            )
            submission = Submission(
                id=str(uuid.uuid4()),
                model_name=form.name,
                author=author,
                ip_hash=ip_hash,
                contact=form.contact,
                base_url=form.base_url.rstrip("/"),
                remote_model=form.model,
                api_key=cipher,
                errors=[],
                reason="the probe is running",
            )
            session.add(submission)
            session.flush()
            return self._view_of(session, submission)

    def _check_limits(self, session: Session, author: str, ip_hash: str | None, organisation: str) -> None:
        settings = self.settings
        waiting = (
            select(func.count())
            .select_from(Submission)
            .join(Model, Model.name == Submission.model_name)
            .where(Model.status.in_([s.value for s in WAITING]))
        )
        if (session.scalar(waiting.where(Submission.author == author)) or 0) >= settings.submissions_pending_max:
            raise TooManyRequests(
                f"you have {settings.submissions_pending_max} submissions waiting for a decision: wait for them "
                "(or withdraw one) before submitting more",
                3600,
            )
        if (
            ip_hash
            and (session.scalar(waiting.where(Submission.ip_hash == ip_hash)) or 0) >= settings.submissions_pending_max
        ):
            raise TooManyRequests(
                f"{settings.submissions_pending_max} submissions from your address are waiting for a decision", 3600
            )
        live = [ModelStatus.ACTIVE.value, *(s.value for s in WAITING)]
        count = session.scalar(
            select(func.count())
            .select_from(Model)
            .where(func.lower(Model.organisation) == organisation.strip().lower(), Model.status.in_(live))
        )
        if (count or 0) >= settings.organisation_active_max:
            raise Conflict(
                f"{organisation} already has {settings.organisation_active_max} models active or waiting "
                "(the arena's limit on variants per organisation): withdraw one first"
            )

    def _locked(self, session: Session, submission_id: str, author: str | None) -> tuple[Submission, Model]:
        query = select(Submission, Model).join(Model, Model.name == Submission.model_name)
        query = query.where(Submission.id == submission_id).with_for_update()
        row = session.execute(query).one_or_none()
        if row is None or (author is not None and not hmac.compare_digest(row[0].author, author)):
            raise NotFound("no such submission for this token")
        return row[0], row[1]

    def _view(self, submission_id: str, author: str | None) -> SubmissionView:
        with self.store.read() as session:
            query = select(Submission).where(Submission.id == submission_id)
            submission = session.scalar(query)
            if submission is None or (author is not None and not hmac.compare_digest(submission.author, author)):
                raise NotFound("no such submission for this token")
            view = self._view_of(session, submission)
            view.battles, view.failed_battles, view.votes = _served(session, submission.model_name)
            return view

    def _list(self, status: ModelStatus | None) -> list[SubmissionView]:
        with self.store.read() as session:
            query = select(Submission).join(Model, Model.name == Submission.model_name).order_by(Submission.created_at)
            if status is not None:
                query = query.where(Model.status == status)
            return [self._view_of(session, submission) for submission in session.scalars(query)]

    def _view_of(self, session: Session, submission: Submission) -> SubmissionView:
        model = session.scalar(select(Model).where(Model.name == submission.model_name))
        assert model is not None
        return SubmissionView(
            id=submission.id,
            name=model.name,
            modality=Modality(model.modality),
            status=ModelStatus(model.status),
            reason=model.disabled_reason if model.status == ModelStatus.DISABLED else submission.reason,
            base_url=submission.base_url,
            model=submission.remote_model,
            has_api_key=submission.api_key is not None,
            contact=submission.contact,
            organisation=model.organisation,
            license=model.license,
            open_weights=model.open_weights,
            parameters=model.parameters,
            description=model.description,
            probe=submission.probe,
            probed_at=submission.probed_at,
            errors=list(submission.errors or []),
            created_at=submission.created_at,
            updated_at=submission.updated_at,
        )

    def _change(
        self, submission_id: str, author: str, form: SubmissionForm, cipher: str | None, key_given: bool, trusted: bool
    ) -> SubmissionView:
        with self.store.atomic(), self.store.write() as session:
            submission, model = self._locked(session, submission_id, author)
            if model.status in (ModelStatus.REJECTED, ModelStatus.RETIRED):
                raise Conflict(f"this submission is {model.status}: submit the model again under a new name")
            if form.organisation.strip().lower() != (model.organisation or "").lower():
                self._check_limits(session, author, None, form.organisation)
            submission.base_url = form.base_url.rstrip("/")
            submission.remote_model = form.model
            submission.contact = form.contact
            if key_given:
                submission.api_key = cipher
            model.options = {"base_url": submission.base_url, "model": form.model, "allow_private": trusted}
            model.organisation = form.organisation.strip()
            model.license, model.open_weights = form.license, form.open_weights
            model.parameters, model.description = form.parameters, form.description
            model.status, model.disabled_by, model.disabled_reason = ModelStatus.PROBING, None, None
            submission.reason = "the probe is running"
            session.flush()
            return self._view_of(session, submission)

    def _withdraw(self, submission_id: str, author: str) -> SubmissionView:
        with self.store.atomic(), self.store.write() as session:
            submission, model = self._locked(session, submission_id, author)
            model.status, model.disabled_by, model.disabled_reason = ModelStatus.RETIRED, None, None
            submission.reason = "withdrawn by its author: out of new battles, its votes stay on the boards' history"
            session.flush()
            return self._view_of(session, submission)

    def _decide(self, submission_id: str, actor: str, rejection: str | None) -> SubmissionView:
        with self.store.atomic(), self.store.write() as session:
            submission, model = self._locked(session, submission_id, None)
            if model.status != ModelStatus.PENDING:
                raise Conflict(f"this submission is {model.status}, not waiting for a decision")
            if rejection is None:
                if not (submission.probe or {}).get("ok"):
                    raise Conflict("its probe has not passed: ask the author to fix the endpoint, or probe it again")
                model.status, submission.reason, model.failures = ModelStatus.ACTIVE, "approved", 0
                log_action(session, actor, AdminAction.APPROVE_SUBMISSION, model.name, {"submission": submission.id})
            else:
                model.status, submission.reason = ModelStatus.REJECTED, rejection
                log_action(
                    session,
                    actor,
                    AdminAction.REJECT_SUBMISSION,
                    model.name,
                    {"submission": submission.id, "reason": rejection},
                )
            session.flush()
            return self._view_of(session, submission)

    def _set_probing(self, submission_id: str) -> SubmissionView:
        with self.store.atomic(), self.store.write() as session:
            submission, model = self._locked(session, submission_id, None)
            if model.status not in WAITING:
                raise Conflict(f"this submission is {model.status}: only a waiting one is probed again")
            model.status, submission.reason = ModelStatus.PROBING, "the probe is running"
            session.flush()
            return self._view_of(session, submission)

    def _record_probe(self, submission_id: str, result: dict[str, Any]) -> None:
        with self.store.atomic(), self.store.write() as session:
            submission, model = self._locked(session, submission_id, None)
            submission.probe = result
            submission.probed_at = datetime.now(UTC)
            if model.status != ModelStatus.PROBING:
                return  # decided or withdrawn meanwhile: the result is kept, the state is not touched
            model.status = ModelStatus.PENDING
            if result["ok"]:
                submission.reason = PROBE_PASSED
            else:
                failed = next((r for r in result.get("results", []) if not r["ok"]), None)
                why = (failed or {}).get("error") or result.get("error") or "no answer"
                submission.reason = f"the probe failed: {str(why)[:400]}"

    def _probing(self) -> list[str]:
        with self.store.read() as session:
            query = select(Submission.id).join(Model, Model.name == Submission.model_name)
            return list(session.scalars(query.where(Model.status == ModelStatus.PROBING)))


def _served(session: Session, name: str) -> tuple[int, int, int]:
    """Battles the model was in, those that failed, and votes on them."""
    in_battle = or_(Battle.model_a == name, Battle.model_b == name)
    battles = session.scalar(select(func.count()).select_from(Battle).where(in_battle)) or 0
    failed = session.scalar(select(func.count()).select_from(Battle).where(in_battle, Battle.status == "failed")) or 0
    votes = (
        session.scalar(
            select(func.count()).select_from(Vote).join(Battle, Battle.id == Vote.battle_id).where(in_battle)
        )
        or 0
    )
    return battles, failed, votes
