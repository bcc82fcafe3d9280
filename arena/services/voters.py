"""Voters: a random id in a cookie, optional demographics, a salted IP hash.

The IP address itself is never stored: only HMAC-SHA256(secret, ip), so hashes
can be compared for fraud checks but not reversed, and they change with the
secret.
"""

from __future__ import annotations

import hashlib
import hmac
import re
import secrets
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import TypeGuard

from sqlalchemy import insert as sqlalchemy_insert
from sqlalchemy import select, update
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert

from arena.errors import InvalidInput
from arena.services.gate import Gate
from arena.store.engine import Store
from arena.store.events import VoterProfileChanged
from arena.store.schema import Voter
from arena.store.votes import erase_demographics

COOKIE = "arena_voter"  # the page and the API share one voter id per browser
HEADER = "X-Arena-Voter"  # API clients without cookies
COOKIE_MAX_AGE = 400 * 24 * 3600
VOTER_ID = re.compile(r"^[A-Za-z0-9_-]{8,64}$")
PROFILE_FIELDS = {
    "age_band": ("under-18", "18-24", "25-34", "35-44", "45-54", "55-64", "65+"),
    "gender": ("woman", "man", "non-binary", "other", "prefer not to say"),
    "expertise": ("none", "hobbyist", "student", "professional", "researcher"),
}
COUNTRY = re.compile(r"^[A-Z]{2}$")
LANGUAGE = re.compile(r"^[a-z]{2,3}(-[A-Za-z0-9]{2,8})?$")


def new_voter_id() -> str:
    return secrets.token_urlsafe(16)


def valid_voter_id(value: str | None) -> TypeGuard[str]:
    if not value:
        return False
    return VOTER_ID.fullmatch(value) is not None  # match's $ would let a trailing newline through


def hash_ip(ip: str | None, salt: bytes) -> str | None:
    if not ip:
        return None
    return hmac.new(salt, ip.encode(), hashlib.sha256).hexdigest()


def client_address(peer: str | None, forwarded_for: str | None, trusted_proxies: frozenset[str]) -> str | None:
    """The client's address: the peer's, or, behind a trusted proxy, the last hop it did not add.

    X-Forwarded-For is believed only from proxies the operator listed (ARENA_TRUSTED_PROXIES);
    from anyone else it is a client's claim and ignored.
    """
    if peer is None or peer not in trusted_proxies or not forwarded_for:
        return peer
    hops = [hop.strip() for hop in forwarded_for.split(",") if hop.strip()]
    for hop in reversed(hops):
        if hop not in trusted_proxies:
            return hop
    return peer


@dataclass(frozen=True)
class Client:
    """Who sent a live request: a voter id and the salted hash of their address."""

    voter_id: str
    ip_hash: str | None = None


@dataclass(frozen=True)
class Profile:
    """A voter's optional demographics; all None when nothing was given."""

    age_band: str | None = None
    gender: str | None = None
    country: str | None = None
    first_language: str | None = None
    expertise: str | None = None
    consent_at: datetime | None = None


FIELDS = tuple(name for name in Profile.__dataclass_fields__ if name != "consent_at")


class Voters:
    """Creates voter rows on first sight; remembers known ids to skip the query.

    Every method runs its database work on the store's gateway threads.
    """

    def __init__(self, store: Store, salt: bytes, gate: Gate | None = None):
        self.store = store
        self.salt = salt  # the IP-hash subkey: hashes compare, but never reverse, and change with the secret
        self.gate = gate
        self._known: set[str] = set()
        self._accepted: set[str] = set()  # voters seen to have accepted the terms (acceptance is never taken back)

    def client(self, voter_id: str, address: str | None) -> Client:
        return Client(voter_id, hash_ip(address, self.salt))

    async def gate_request(self, ip_hash: str | None) -> None:
        if self.gate is not None:
            await self.gate.request(ip_hash)

    async def gate_submission(self, ip_hash: str | None) -> None:
        if self.gate is not None:
            await self.gate.submission(ip_hash)

    async def ensure(self, voter_id: str, ip_hash: str | None = None) -> None:
        """Store a voter id the first time something of theirs is stored (never on a mere read).

        Raises InvalidInput for a malformed id, TooManyRequests when the address mints
        new voter ids too fast.
        """
        if voter_id in self._known:
            return
        if not valid_voter_id(voter_id):
            raise InvalidInput("voter id must be 8-64 characters: letters, digits, '-' or '_'")
        if not await self.store.run(self._exists, voter_id):
            if self.gate is not None:
                await self.gate.new_voter(ip_hash)
            await self.store.run_write(self._insert, voter_id, ip_hash)
        if len(self._known) > 1_000_000:
            self._known.clear()
        self._known.add(voter_id)

    async def accepted_terms(self, voter_id: str) -> bool:
        """Whether this voter accepted the page's terms and privacy notice (asked once per voter)."""
        if voter_id in self._accepted:
            return True
        accepted = await self.store.run(self._accepted_at, voter_id) is not None
        if accepted:
            self._accepted.add(voter_id)
        return accepted

    async def accept_terms(self, voter_id: str, ip_hash: str | None = None) -> None:
        """Record the acceptance (the first one's time is kept). Raises InvalidInput, TooManyRequests."""
        await self.ensure(voter_id, ip_hash)
        await self.store.run_write(self._accept, voter_id)
        if len(self._accepted) > 1_000_000:
            self._accepted.clear()
        self._accepted.add(voter_id)

    def _accepted_at(self, voter_id: str) -> datetime | None:
        with self.store.read() as session:
            return session.scalar(select(Voter.terms_accepted_at).where(Voter.id == voter_id))

    def _accept(self, voter_id: str) -> None:
        with self.store.write() as session:
            session.execute(
                update(Voter)
                .where(Voter.id == voter_id, Voter.terms_accepted_at.is_(None))
                .values(terms_accepted_at=datetime.now(UTC))
            )

    async def profile(self, voter_id: str) -> Profile:
        return await self.store.run(self._profile, voter_id)

    async def save_profile(self, voter_id: str, *, ip_hash: str | None = None, **fields: str | None) -> Profile:
        """Store the optional demographics; consent is recorded with the save. Raises InvalidInput."""
        values: dict[str, object] = {name: _check_field(name, value) for name, value in fields.items()}
        values["consent_at"] = datetime.now(UTC)
        await self.ensure(voter_id, ip_hash)
        await self.store.run_write(self._update, voter_id, values)
        return await self.profile(voter_id)

    async def delete_profile(self, voter_id: str) -> None:
        """Forget the profile, and its snapshot on the voter's past votes, in one transaction."""
        await self.store.run_write(self._delete, voter_id)

    def _delete(self, voter_id: str) -> None:
        with self.store.atomic():
            erase_demographics(self.store, voter_id)
            self._update(voter_id, {name: None for name in (*FIELDS, "consent_at")})

    def create_many(self, rows: list[dict[str, object]]) -> None:
        """Write many new voters at once (simulations, imports); rows hold Voter columns."""
        with self.store.write() as session:
            session.execute(sqlalchemy_insert(Voter), rows)

    def _exists(self, voter_id: str) -> bool:
        with self.store.read() as session:
            return session.get(Voter, voter_id) is not None

    def _insert(self, voter_id: str, ip_hash: str | None) -> None:
        dialect = self.store.engine.dialect.name
        insert = pg_insert if dialect == "postgresql" else sqlite_insert
        statement = (
            insert(Voter)
            .values(id=voter_id, created_at=datetime.now(UTC), ip_hash=ip_hash)
            .on_conflict_do_nothing(index_elements=["id"])
        )
        with self.store.write() as session:
            session.execute(statement)

    def _profile(self, voter_id: str) -> Profile:
        with self.store.read() as session:
            voter = session.get(Voter, voter_id)
            if voter is None:
                return Profile()
            return Profile(**{name: getattr(voter, name) for name in (*FIELDS, "consent_at")})

    def _update(self, voter_id: str, values: dict[str, object]) -> None:
        with self.store.write() as session:
            session.execute(update(Voter).where(Voter.id == voter_id).values(**values))
        self.store.announce(VoterProfileChanged(voter_id))


class InvalidField(InvalidInput):
    """A profile answer that breaks its field's rule; the page names the field in its own words."""

    def __init__(self, field: str, rule: str):
        super().__init__(f"{field} {rule}")
        self.field = field
        self.rule = rule


def _check_field(name: str, value: str | None) -> str | None:
    if value in (None, ""):
        return None
    if name in PROFILE_FIELDS:
        if value not in PROFILE_FIELDS[name]:
            raise InvalidField(name, f"must be one of: {', '.join(PROFILE_FIELDS[name])}")
        return value
    if name == "country":
        if not COUNTRY.match(value.upper()):
            raise InvalidField("country", "must be a two-letter ISO code, e.g. FR")
        return value.upper()
    if name == "first_language":
        if not LANGUAGE.match(value):
            raise InvalidField("first_language", "must be a language code, e.g. en or pt-BR")
        return value
    raise InvalidInput(f"unknown profile field {name!r}")
