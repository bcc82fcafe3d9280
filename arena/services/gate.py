"""Vote-time abuse limits: who may start a battle, vote or mint a new voter id, and how often.

Live requests only (the API and the page alike, since both go through the battle and
voter services); simulations, imports and bulk loads are never limited. Each action
is counted per voter id and per IP hash (everyone behind one address shares it), in
sliding windows; a refused request raises TooManyRequests with the wait, which the
API answers as 429 + Retry-After and the page shows as a message. Nothing is written
for a refused request.
"""

from __future__ import annotations

from arena.errors import TooManyRequests
from arena.settings import Settings
from arena.store.limits import Limit, Limiter

MINUTE, HOUR, DAY = 60.0, 3600.0, 86400.0
SUBMISSIONS_PER_HOUR = 10  # model submissions (and so probes) one address may send


class Gate:
    def __init__(self, limiter: Limiter, settings: Settings):
        self.limiter = limiter
        self.battle_limits = [
            Limit("battles-minute", settings.battles_per_minute, MINUTE),
            Limit("battles-day", settings.battles_per_day, DAY),
        ]
        self.vote_limits = [
            Limit("votes-minute", settings.votes_per_minute, MINUTE),
            Limit("votes-day", settings.votes_per_day, DAY),
        ]
        self.ip_battle_limit = Limit("ip-battles-minute", settings.ip_battles_per_minute, MINUTE)
        self.ip_vote_limit = Limit("ip-votes-minute", settings.ip_votes_per_minute, MINUTE)
        self.mint_limit = Limit("ip-new-voters-hour", settings.new_voters_per_hour, HOUR)
        self.request_limit = Limit("ip-requests-minute", settings.ip_requests_per_minute, MINUTE)
        self.submission_limit = Limit("ip-submissions-hour", SUBMISSIONS_PER_HOUR, HOUR)

    async def request(self, ip_hash: str | None) -> None:
        """Raises TooManyRequests when one address sends too many API requests of any kind."""
        if ip_hash is None:
            return
        verdict = await self.limiter.hit(ip_hash, self.request_limit)
        if not verdict.allowed:
            raise TooManyRequests("too many requests from your address; please slow down", verdict.retry_after_s)

    async def battle(self, voter_id: str, ip_hash: str | None) -> None:
        """Raises TooManyRequests when this voter or address started too many battles."""
        await self._check("battles", voter_id, self.battle_limits, ip_hash, self.ip_battle_limit)

    async def vote(self, voter_id: str, ip_hash: str | None) -> None:
        """Raises TooManyRequests when this voter or address voted too often."""
        await self._check("votes", voter_id, self.vote_limits, ip_hash, self.ip_vote_limit)

    async def new_voter(self, ip_hash: str | None) -> None:
        """Raises TooManyRequests when one address mints voter ids too fast (Sybil attacks)."""
        if ip_hash is None:
            return
        verdict = await self.limiter.hit(ip_hash, self.mint_limit)
        if not verdict.allowed:
            raise TooManyRequests("too many new voters from your address; try again later", verdict.retry_after_s)

    async def submission(self, ip_hash: str | None) -> None:
        """Raises TooManyRequests when one address submits models too often (each costs a probe)."""
        if ip_hash is None:
            return
        verdict = await self.limiter.hit(ip_hash, self.submission_limit)
        if not verdict.allowed:
            raise TooManyRequests(
                "too many model submissions from your address; try again later", verdict.retry_after_s
            )

    async def _check(self, what: str, voter_id: str, limits: list[Limit], ip_hash: str | None, ip_limit: Limit) -> None:
        checks = [(voter_id, limit) for limit in limits]
        if ip_hash is not None:
            checks.append((ip_hash, ip_limit))
        for key, limit in checks:
            verdict = await self.limiter.hit(key, limit)
            if not verdict.allowed:
                window = "minute" if limit.window_s <= MINUTE else "day"
                raise TooManyRequests(f"too many {what} in a {window}; please slow down", verdict.retry_after_s)
