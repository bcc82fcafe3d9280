"""The battle lifecycle: draw a pair, run both sides at once, store, vote, reveal.

Plain Python with no UI or HTTP code, so the REST API, the web page and
`arena simulate` all drive the same rules. Generation runs on the event loop;
database work runs in worker threads.
"""

from __future__ import annotations

import asyncio
import logging
import random
import time
import uuid
from collections.abc import AsyncIterator, Callable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime

from sqlalchemy import insert, select
from sqlalchemy.orm import Session

from arena.errors import Conflict, Forbidden, InvalidInput, NotFound, Unavailable
from arena.services.catalog import active_endpoints
from arena.services.categories import categorise
from arena.services.endpoints import Endpoints
from arena.services.formats import output_formats, same_format_pairs
from arena.services.health import Health
from arena.services.languages import detect_language
from arena.services.sampling import Pair, SampledBoard, active_pairs, active_scores, draw, uniform_pairs
from arena.services.voters import Voters
from arena.settings import Settings
from arena.store.artifacts import ArtifactStore
from arena.store.engine import Store
from arena.store.events import BattleFinished
from arena.store.schema import Battle, Output, Vote
from arena.store.text import storable, unstorable
from arena.store.votes import Ballot, DwellPolicy, RecordedVote, is_battle_id, record_votes
from arena.vocabulary import (
    BattleMode,
    BattleStatus,
    Dimension,
    Modality,
    Side,
    VoteSource,
    Winner,
    one_of,
)
from generators import (
    GenerationRequest,
    Generator,
    GeneratorError,
    ImageOutput,
    Message,
    TextOutput,
)
from generators import Output as GeneratedOutput  # schema's Output is the stored row
from generators.protocol import GenerationTimeout

log = logging.getLogger("arena.battles")

SIDES = (Side.A, Side.B)
TIMED_OUT = "did not answer in time"
HUNG_GRACE_S = 2.0  # past the time limit, before a side that ignores it is abandoned


@dataclass
class SideOutput:
    side: str
    text: str | None = None
    artifact_sha256: str | None = None
    media_type: str | None = None
    latency_ms: int | None = None
    error: str | None = None


@dataclass
class BattleView:
    """What a voter may see of a battle: model names only once they are revealed."""

    id: str
    modality: str
    mode: str
    status: str
    conversation: list[str]
    turns: list[dict[str, SideOutput]]
    error: str | None = None
    votes: dict[str, str] = field(default_factory=dict)  # dimension -> winner
    model_a: str | None = None
    model_b: str | None = None

    @property
    def revealed(self) -> bool:
        return self.model_a is not None


@dataclass
class Started:
    battle_id: str


@dataclass
class Chunk:
    side: str
    text: str


@dataclass
class Finished:
    battle: BattleView


Event = Started | Chunk | Finished

# Prompts so far, then each side's replies so far (a, b): what a turn is generated from.
Conversation = list[list[str]]
# One side's outcome: what is stored about it, and the generator's output (None on failure).
SideResult = tuple[SideOutput, GeneratedOutput | None]


class BattleService:
    def __init__(
        self,
        store: Store,
        artifacts: ArtifactStore,
        generators: Mapping[str, Generator],
        settings: Settings,
        voters: Voters,
        rng: random.Random | None = None,
        is_banned: Callable[[str], bool] = lambda _voter: False,
        health: Health | None = None,
        votes_of: Callable[[Modality], dict[str, int]] = lambda _modality: {},
        board_of: Callable[[Modality], SampledBoard | None] = lambda _modality: None,
    ):
        """`votes_of`: each model's votes on its modality's board (cached), for the new-model boost;
        `board_of`: the modality's cached overall board, for the active sampler."""
        self.store = store
        self.artifacts = artifacts
        self.generators = generators
        self.settings = settings
        self.voters = voters
        self.is_banned = is_banned
        self.health = health
        self.votes_of = votes_of
        self.board_of = board_of
        self._scores: dict[Modality, tuple[SampledBoard, dict[Pair, float]]] = {}  # per board fit
        self.rng = rng or random.Random()
        # ARENA_MIN_DWELL_MS=0 turns the reading-time check off
        self.dwell = (
            DwellPolicy(settings.min_dwell_ms, settings.dwell_ms_per_char, settings.max_dwell_ms)
            if settings.min_dwell_ms > 0
            else None
        )

    # -- models ---------------------------------------------------------------

    async def active_models(self, modality: Modality) -> dict[str, float]:
        """Active models of a modality that have a live generator, with sampling weights.
        Models approved since the last call get their generator here (every replica reads the table)."""
        weights, endpoints = await self.store.run(active_endpoints, self.store, modality)
        if isinstance(self.generators, Endpoints):
            await self.generators.sync(modality, endpoints)
        return {name: weight for name, weight in weights.items() if name in self.generators}

    def boosted(self, modality: Modality, weights: dict[str, float]) -> dict[str, float]:
        """The new-model boost: a model with fewer than ARENA_PROVISIONAL_VOTES votes on its
        modality's board is drawn with ARENA_NEW_MODEL_BOOST times its weight, so its rating
        settles quickly. The drawn pair's probability (stored) includes the boost."""
        votes = self.votes_of(modality)
        floor, boost = self.settings.provisional_votes, self.settings.new_model_boost
        return {name: w * boost if votes.get(name, 0) < floor else w for name, w in weights.items()}

    def pair_distribution(self, modality: Modality, weights: dict[str, float]) -> dict[Pair, float]:
        """The probability of each unordered pair of `weights`' models in the next anonymous
        battle (sums to 1), by the modality's sampler (ARENA_SAMPLER), boost included: what
        is drawn from and stored. Raises ValueError with fewer than two models."""
        boosted = self.boosted(modality, weights)
        if self.settings.sampler_for(modality) != "active":
            return uniform_pairs(boosted)
        return active_pairs(boosted, self._active_scores(modality), self.settings.sampler_floor)

    def _active_scores(self, modality: Modality) -> dict[Pair, float]:
        """The active sampler's shares from the cached board, computed once per fit ({} until
        the board has one: then the sampler is uniform)."""
        board = self.board_of(modality)
        if board is None or board.status != "ok":
            return {}
        cached = self._scores.get(modality)
        if cached is not None and cached[0] is board:
            return cached[1]
        scores = active_scores(board.rows, board.battle_counts)
        self._scores[modality] = (board, scores)
        return scores

    # -- starting and continuing ----------------------------------------------

    async def start(
        self,
        modality: str,
        prompt: str,
        voter_id: str,
        *,
        models: tuple[str, str] | None = None,
        seed: int | None = None,
        ip_hash: str | None = None,
        source: VoteSource = VoteSource.LIVE,
    ) -> BattleView:
        return await _last(
            self.start_stream(modality, prompt, voter_id, models=models, seed=seed, ip_hash=ip_hash, source=source)
        )

    async def start_stream(
        self,
        modality: str,
        prompt: str,
        voter_id: str,
        *,
        models: tuple[str, str] | None = None,
        seed: int | None = None,
        ip_hash: str | None = None,
        source: VoteSource = VoteSource.LIVE,
    ) -> AsyncIterator[Event]:
        """Create a battle and stream both sides' text as it arrives, then the result.

        `models` picks both sides by name (named mode: stored, never ranked on the
        main board); otherwise the sampler draws an anonymous pair. Raises InvalidInput
        (modality, prompt, named models), Unavailable (fewer than two models) or, for live
        requests, TooManyRequests. The voter is stored with the battle, not before.
        """
        kind = _modality(modality)
        prompt = self._check_prompt(prompt)
        if source == VoteSource.LIVE:
            await self._admit(voter_id, ip_hash, vote=False)
        await self.voters.ensure(voter_id, ip_hash)
        if models is None:
            mode = BattleMode.ANONYMOUS
            try:
                weights = await self.active_models(kind)
                # O(models²), and O(models³) once per board fit with the active sampler: off the loop
                distribution = await asyncio.to_thread(self.pair_distribution, kind, weights)
                if kind == Modality.THREE_D and not self.settings.mix_3d_formats:
                    formats = await self.store.run(output_formats, self.store, kind)
                    distribution = same_format_pairs(distribution, *formats)
                model_a, model_b, probability = draw(distribution, self.rng)
            except ValueError:
                raise Unavailable(f"fewer than two {kind} models are available") from None
        else:
            mode, probability = BattleMode.NAMED, None
            model_a, model_b = await self._check_named(kind, models)
        battle_id = str(uuid.uuid4())
        battle = Battle(
            id=battle_id,
            modality=kind.value,
            mode=mode.value,
            prompt=prompt,
            conversation=[prompt],
            category=categorise(kind, prompt),
            language=detect_language(prompt) if kind == Modality.TEXT else None,  # ~20 us: inline
            model_a=model_a,
            model_b=model_b,
            pair_probability=probability,
            status=BattleStatus.GENERATING.value,
            voter_id=voter_id,
        )
        await self.store.run_write(self._insert, battle)
        try:
            yield Started(battle_id)
        except GeneratorExit:  # the consumer left before generation began
            await self.store.run_write(self._mark_failed, battle_id, "generation was cancelled")
            raise
        async for event in self._run_turn(battle_id, kind, (model_a, model_b), [[prompt], [], []], 0, seed):
            yield event

    async def continue_(self, battle_id: str, voter_id: str, prompt: str, *, ip_hash: str | None = None) -> BattleView:
        return await _last(self.continue_stream(battle_id, voter_id, prompt, ip_hash=ip_hash))

    async def continue_stream(
        self, battle_id: str, voter_id: str, prompt: str, *, ip_hash: str | None = None
    ) -> AsyncIterator[Event]:
        """Send a follow-up message to the same pair (text battles, before the vote).

        A follow-up costs what a battle costs, so it counts against the battle limits.
        """
        prompt = self._check_prompt(prompt)
        await self._admit(voter_id, ip_hash, vote=False)
        modality, pair, conversation, turn = await self.store.run_write(
            self._claim_next_turn, battle_id, voter_id, prompt
        )
        async for event in self._run_turn(battle_id, modality, pair, conversation, turn, None):
            yield event

    # -- voting ---------------------------------------------------------------

    async def vote(
        self,
        battle_id: str,
        voter_id: str,
        winner: str,
        dimension: str = Dimension.OVERALL,
        *,
        ip_hash: str | None = None,
        source: VoteSource = VoteSource.LIVE,
    ) -> RecordedVote:
        """Record one vote through the vote path; a second vote on a dimension is a Conflict.

        Raises InvalidInput, NotFound or Conflict (see `record_votes`), TooManyRequests (live).
        """
        ballot = Ballot(battle_id, voter_id, _winner(winner), _dimension(dimension))
        dwell = None
        if source == VoteSource.LIVE:
            await self._admit(voter_id, ip_hash, vote=True)
            dwell = self.dwell
        recorded = await self.store.run_write(record_votes, self.store, [ballot], source, dwell)
        return recorded[0]

    async def _admit(self, voter_id: str, ip_hash: str | None, *, vote: bool) -> None:
        """A live request's admission: Forbidden for a banned voter, TooManyRequests over a limit.

        Nothing is written before this.
        """
        if self.is_banned(voter_id):
            raise Forbidden("this voter id may no longer vote or start battles")
        gate = self.voters.gate
        if gate is not None:
            await (gate.vote if vote else gate.battle)(voter_id, ip_hash)

    # -- reading --------------------------------------------------------------

    async def pair_of(self, battle_id: str) -> tuple[str, str]:
        """Both model names, for simulated voters and operators (voters see them after the vote)."""
        return await self.store.run(self._pair_of, battle_id)

    def _pair_of(self, battle_id: str) -> tuple[str, str]:
        with self.store.read() as session:
            battle = session.get(Battle, battle_id)
            if battle is None:
                raise NotFound("no such battle")
            return battle.model_a, battle.model_b

    # -- history ---------------------------------------------------------------

    def write_ready(self, battles: Sequence[dict[str, object]]) -> None:
        """Write historical battles (bulk loads, imports) as ready, without outputs, in one statement."""
        with self.store.write() as session:
            session.execute(insert(Battle), list(battles))

    async def get(self, battle_id: str, voter_id: str) -> BattleView:
        """The battle as its voter may see it. Raises NotFound."""
        return await self.store.run(self._get, battle_id, voter_id)

    def _get(self, battle_id: str, voter_id: str) -> BattleView:
        with self.store.read() as session:
            battle = self._owned(session, battle_id, voter_id)
            return self._view(session, battle)

    # -- internals ------------------------------------------------------------

    async def _run_turn(
        self,
        battle_id: str,
        modality: Modality,
        pair: tuple[str, str],
        conversation: Conversation,
        turn: int,
        seed: int | None,
    ) -> AsyncIterator[Event]:
        """Run both generators concurrently, forward text chunks, store the outcome.

        If the consumer goes away mid-stream, both generations are cancelled and
        the battle is marked failed, so no half-finished battle can take a vote.
        """
        prompts, replies_a, replies_b = conversation
        seed = self.rng.randrange(2**31) if seed is None else seed
        queue: asyncio.Queue[Chunk] = asyncio.Queue()
        tasks = [
            asyncio.create_task(self._run_side(side, pair[i], modality, prompts, replies, seed, queue))
            for i, (side, replies) in enumerate(zip(SIDES, (replies_a, replies_b)))
        ]
        finished = False
        loop = asyncio.get_running_loop()
        # Each side enforces the time limit itself; this backstop ends the turn even when a
        # backend ignores its cancellation, so a hung model can never hold a battle open.
        deadline = loop.time() + self.settings.generation_timeout_s + HUNG_GRACE_S
        try:
            pending = set(tasks)
            while pending:
                getter = asyncio.ensure_future(queue.get())
                done, _ = await asyncio.wait(
                    {getter, *pending}, timeout=max(0.0, deadline - loop.time()), return_when=asyncio.FIRST_COMPLETED
                )
                if getter in done:
                    yield getter.result()
                else:
                    getter.cancel()
                if not done:
                    break
                pending -= done
            while not queue.empty():
                yield queue.get_nowait()
            outputs = [
                task.result() if task.done() else await self._abandon(task, side, name)
                for task, side, name in zip(tasks, SIDES, pair)
            ]
            view = await self.store.run_write(self._store_turn, battle_id, turn, pair, outputs)
            finished = True
            self.store.announce(BattleFinished(battle_id, modality, BattleStatus(view.status)))
            yield Finished(view)
        finally:
            if not finished:
                for task in tasks:
                    task.cancel()
                await asyncio.wait(tasks, timeout=HUNG_GRACE_S)  # a task that ignores cancel is left behind
                await self.store.run_write(self._mark_failed, battle_id, "generation was cancelled")

    async def _abandon(self, task: asyncio.Task[SideResult], side: Side, name: str) -> SideResult:
        """A side still running past the time limit and the grace: cancelled, not awaited, failed."""
        task.cancel()
        log.warning("model %s ignored its time limit; its generation was abandoned", name)
        if self.health is not None:
            await self.health.failed(name, "did not stop at its time limit")
        return SideOutput(side, error=f"Model {side.upper()} {TIMED_OUT}"), None

    async def _run_side(
        self,
        side: Side,
        name: str,
        modality: Modality,
        prompts: list[str],
        replies: list[str],
        seed: int,
        queue: asyncio.Queue[Chunk],
    ) -> SideResult:
        messages: list[Message] = []
        for i, prompt in enumerate(prompts):
            messages.append(Message("user", prompt))
            if i < len(replies):
                messages.append(Message("assistant", replies[i]))
        request = GenerationRequest(
            modality=modality, messages=messages, seed=seed, timeout_s=self.settings.generation_timeout_s
        )
        generator = self.generators.get(name)
        started = time.perf_counter()
        label = f"Model {side.upper()}"
        result: GeneratedOutput | None
        try:
            if generator is None:
                raise GeneratorError(f"{name} is not loaded")
            if modality == Modality.TEXT:
                stream = generator.stream(request)
                async for chunk in stream:
                    await queue.put(Chunk(side, chunk))
                result = stream.output
            else:
                result = await generator.generate(request)
        except GeneratorError as exc:
            # The voter learns only that a side could not answer (or not in time): an endpoint's
            # own words could name the model, its host or its key. The detail (key scrubbed) is
            # for operators and, through the health record, for the model's author.
            log.warning("model %s failed: %s", name, exc.detail)
            if self.health is not None:
                await self.health.failed(name, exc.detail)
            what = TIMED_OUT if isinstance(exc, GenerationTimeout) else "could not answer"
            return SideOutput(side, latency_ms=_elapsed_ms(started), error=f"{label} {what}"), None
        if self.health is not None:
            await self.health.passed(name)
        return SideOutput(side, latency_ms=_elapsed_ms(started)), result

    def _insert(self, battle: Battle) -> None:
        with self.store.write() as session:
            session.add(battle)

    def _store_turn(
        self, battle_id: str, turn: int, pair: tuple[str, str], outputs: Sequence[SideResult]
    ) -> BattleView:
        rows = []
        for side_output, result in outputs:
            if isinstance(result, TextOutput):  # a model's answer is kept, made storable
                side_output.text, side_output.media_type = storable(result.text), result.media_type
            elif result is not None:
                data = result.png if isinstance(result, ImageOutput) else result.glb
                side_output.artifact_sha256 = self.artifacts.put(data, result.media_type)
                side_output.media_type = result.media_type
            rows.append(Output(battle_id=battle_id, turn=turn, **vars(side_output)))
        errors = [f"{o.error}" for o, _ in outputs if o.error]
        with self.store.write() as session:
            battle = session.get(Battle, battle_id)
            if battle is None:  # inserted before generation began, and nothing deletes battles
                raise RuntimeError(f"battle {battle_id} vanished while its outputs were generated")
            session.add_all(rows)
            battle.status = BattleStatus.FAILED if errors else BattleStatus.READY
            battle.error = "; ".join(errors) or None
            battle.ready_at = None if errors else datetime.now(UTC)
            session.flush()
            return self._view(session, battle)

    def _mark_failed(self, battle_id: str, reason: str) -> None:
        with self.store.write() as session:
            battle = session.get(Battle, battle_id)
            if battle is None or battle.status != BattleStatus.GENERATING:
                return
            battle.status, battle.error = BattleStatus.FAILED, reason
            modality = Modality(battle.modality)
        self.store.announce(BattleFinished(battle_id, modality, BattleStatus.FAILED))

    def _claim_next_turn(
        self, battle_id: str, voter_id: str, prompt: str
    ) -> tuple[Modality, tuple[str, str], Conversation, int]:
        with self.store.write() as session:
            battle = self._owned(session, battle_id, voter_id, lock=True)
            if battle.modality != Modality.TEXT:
                raise Conflict("only text battles take follow-up messages; start a new battle")
            if battle.status != BattleStatus.READY:
                raise Conflict("this battle is not ready for a follow-up message")
            if session.scalar(select(Vote.id).where(Vote.battle_id == battle_id).limit(1)) is not None:
                raise Conflict("this battle is locked after the vote; start a new battle")
            if len(battle.conversation) >= self.settings.max_turns:
                raise Conflict(f"a battle has at most {self.settings.max_turns} turns; please vote")
            outputs = session.scalars(select(Output).where(Output.battle_id == battle_id).order_by(Output.turn)).all()
            replies = {side: [o.text or "" for o in outputs if o.side == side] for side in SIDES}
            turn = len(battle.conversation)
            battle.conversation = [*battle.conversation, prompt]
            battle.status = BattleStatus.GENERATING
            return (
                Modality(battle.modality),
                (battle.model_a, battle.model_b),
                [battle.conversation, replies[Side.A], replies[Side.B]],
                turn,
            )

    def _owned(self, session: Session, battle_id: str, voter_id: str, lock: bool = False) -> Battle:
        battle = session.get(Battle, battle_id, with_for_update=lock) if is_battle_id(battle_id) else None
        return self._check_owner(battle, voter_id)

    @staticmethod
    def _check_owner(battle: Battle | None, voter_id: str) -> Battle:
        """The battle, if it exists and belongs to the voter; NotFound otherwise (alike for both)."""
        if battle is None:
            raise NotFound("no such battle")
        if battle.voter_id != voter_id:
            raise NotFound("no such battle")
        return battle

    def _view(self, session: Session, battle: Battle) -> BattleView:
        outputs = session.scalars(
            select(Output).where(Output.battle_id == battle.id).order_by(Output.turn, Output.side)
        ).all()
        votes = dict(session.execute(select(Vote.dimension, Vote.winner).where(Vote.battle_id == battle.id)).all())
        turns: list[dict[str, SideOutput]] = [{} for _ in range(max((o.turn for o in outputs), default=-1) + 1)]
        for o in outputs:
            turns[o.turn][o.side] = SideOutput(o.side, o.text, o.artifact_sha256, o.media_type, o.latency_ms, o.error)
        reveal = bool(votes) or battle.mode == BattleMode.NAMED
        return BattleView(
            id=battle.id,
            modality=battle.modality,
            mode=battle.mode,
            status=battle.status,
            conversation=list(battle.conversation),
            turns=turns,
            error=battle.error,
            votes=votes,
            model_a=battle.model_a if reveal else None,
            model_b=battle.model_b if reveal else None,
        )

    def _check_prompt(self, prompt: str) -> str:
        if not isinstance(prompt, str) or not prompt.strip():
            raise InvalidInput("prompt must not be empty")
        if len(prompt) > self.settings.max_prompt_chars:
            raise InvalidInput(f"prompt is longer than {self.settings.max_prompt_chars} characters")
        reason = unstorable(prompt)
        if reason is not None:
            raise InvalidInput(f"prompt {reason}")
        return prompt.strip()

    async def _check_named(self, modality: Modality, models: tuple[str, str]) -> tuple[str, str]:
        model_a, model_b = models
        if model_a == model_b:
            raise InvalidInput("choose two different models")
        active = await self.active_models(modality)
        for name in models:
            if name not in active:
                raise InvalidInput(f"{name!r} is not an active {modality} model")
        return model_a, model_b


async def _last(events: AsyncIterator[Event]) -> BattleView:
    async for event in events:
        if isinstance(event, Finished):
            return event.battle
    raise RuntimeError("battle stream ended without a result")


def _elapsed_ms(started: float) -> int:
    return int((time.perf_counter() - started) * 1000)


def _modality(value: str) -> Modality:
    try:
        return Modality(value)
    except ValueError:
        raise InvalidInput(f"modality must be one of: {one_of(Modality)}") from None


def _winner(value: str) -> Winner:
    try:
        return Winner(value)
    except ValueError:
        raise InvalidInput(f"winner must be one of: {one_of(Winner)}") from None


def _dimension(value: str) -> Dimension:
    try:
        return Dimension(value)
    except ValueError:
        raise InvalidInput(f"dimension must be one of: {one_of(Dimension)}") from None
