"""The generators a process can call: the models file's, built at start, and submitted
models', built from their database rows when they become active.

Models live in the database, so every replica reads the same rows: `sync` is given the
active submitted models (from the query that also feeds the sampler, once per battle)
and builds a generator for each one new or changed since the last call, closing those
gone. The author's API key is decrypted only here, into the generator that sends it.
"""

from __future__ import annotations

import asyncio
import base64
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from datetime import datetime

from cryptography.fernet import Fernet, InvalidToken

from arena.settings import Settings
from arena.vocabulary import Modality
from generators import Generator
from generators.config import OpenAIEntry
from generators.remote import OpenAIGenerator


@dataclass(frozen=True)
class Endpoint:
    """A submitted model's endpoint as stored; `api_key` is the Fernet ciphertext."""

    name: str
    modality: Modality
    base_url: str
    remote_model: str
    api_key: str | None
    allow_private: bool
    changed_at: datetime


def key_box(settings: Settings) -> Fernet:
    """Fernet under a key derived from the arena's secret for this use only."""
    return Fernet(base64.urlsafe_b64encode(settings.subkey("endpoint-keys")))


def build_endpoint(endpoint: Endpoint, settings: Settings, timeout_s: float | None = None) -> OpenAIGenerator:
    """A generator for a submitted endpoint (not loaded). Raises ValueError when the stored
    key cannot be decrypted (the arena's secret changed)."""
    key = None
    if endpoint.api_key:
        try:
            key = key_box(settings).decrypt(endpoint.api_key.encode()).decode()
        except InvalidToken:
            raise ValueError(
                f"{endpoint.name}: the stored API key cannot be decrypted (was ARENA_SECRET_KEY changed?)"
            ) from None
    options = {
        "base_url": endpoint.base_url,
        "model": endpoint.remote_model,
        "allow_private": endpoint.allow_private,
        "read_timeout_s": timeout_s or settings.generation_timeout_s,
        "max_retries": 1,
    }
    entry = OpenAIEntry.model_validate(
        {"name": endpoint.name, "modality": endpoint.modality.value, "backend": "openai", "options": options}
    )
    return OpenAIGenerator(entry, api_key=key)


class Endpoints(Mapping[str, Generator]):
    """Name -> generator for every model this process can call (a read-only mapping)."""

    def __init__(self, from_file: dict[str, Generator], settings: Settings):
        self.from_file = from_file
        self.settings = settings
        self._submitted: dict[str, tuple[Endpoint, Generator]] = {}
        self._lock = asyncio.Lock()

    def __getitem__(self, name: str) -> Generator:
        if name in self.from_file:
            return self.from_file[name]
        return self._submitted[name][1]

    def __iter__(self) -> Iterator[str]:
        yield from self.from_file
        yield from self._submitted

    def __len__(self) -> int:
        return len(self.from_file) + len(self._submitted)

    async def sync(self, modality: Modality, active: list[Endpoint]) -> None:
        """Build generators for the modality's active submitted models, new or changed; close the rest of its."""
        wanted = {endpoint.name: endpoint for endpoint in active if endpoint.name not in self.from_file}
        stale = [
            name for name, (had, _) in self._submitted.items() if had.modality == modality and wanted.get(name) != had
        ]
        if not stale and wanted.keys() <= self._submitted.keys():
            return
        async with self._lock:
            for name in stale:
                if name in self._submitted:
                    await self._submitted.pop(name)[1].close()
            for name, endpoint in wanted.items():
                if name in self._submitted:
                    continue
                try:
                    generator = build_endpoint(endpoint, self.settings)
                    await generator.load()
                except ValueError:
                    continue  # not callable here (its key cannot be read): the sampler leaves it out
                self._submitted[name] = (endpoint, generator)

    async def close(self) -> None:
        async with self._lock:
            for _, generator in self._submitted.values():
                await generator.close()
            self._submitted.clear()
