"""Sliding-window counters for abuse limits: in this process, or in Redis for every replica.

A limit is "at most `count` events per `window_s` seconds" for one key (a voter id,
an IP hash). Both implementations keep an exact log of recent events, so a burst at
a window's edge cannot pass twice the limit (fixed windows can). With
ARENA_REDIS_URL set, replicas share one count; if Redis stops answering, the
arena keeps accepting requests under the in-process twin, logs it once, and tries
Redis again a little later (degrade, don't block: a helper's outage never refuses a
vote).
"""

from __future__ import annotations

import logging
import threading
import time
import uuid
from collections import OrderedDict, deque
from dataclasses import dataclass
from typing import Any, Protocol

log = logging.getLogger("arena.limits")

MAX_KEYS = 200_000  # in-process keys kept; the least recently used go first
RETRY_REDIS_S = 30.0


@dataclass(frozen=True)
class Limit:
    name: str  # part of the key, and of the message a refused client reads
    count: int
    window_s: float


@dataclass(frozen=True)
class Verdict:
    allowed: bool
    retry_after_s: float = 0.0


class Limiter(Protocol):
    async def hit(self, key: str, limit: Limit) -> Verdict:
        """Count one event for `key` if it fits under `limit`; else say when one would."""

    async def close(self) -> None: ...


class LocalLimiter:
    """Per-process sliding-window logs, bounded in memory."""

    def __init__(self, max_keys: int = MAX_KEYS):
        self._logs: OrderedDict[str, deque[float]] = OrderedDict()
        self._max_keys = max_keys
        self._lock = threading.Lock()

    async def hit(self, key: str, limit: Limit) -> Verdict:
        return self.hit_now(key, limit, time.monotonic())

    def hit_now(self, key: str, limit: Limit, now: float) -> Verdict:
        full_key = f"{limit.name}:{key}"
        with self._lock:
            events = self._logs.pop(full_key, None) or deque()
            self._logs[full_key] = events  # most recently used last
            while events and events[0] <= now - limit.window_s:
                events.popleft()
            if len(events) >= limit.count:
                return Verdict(False, max(0.0, events[0] + limit.window_s - now))
            events.append(now)
            while len(self._logs) > self._max_keys:
                self._logs.popitem(last=False)
            return Verdict(True)

    async def close(self) -> None:
        return None


# KEYS[1] the log; ARGV: now (ms), window (ms), count, a unique member. One round trip, atomic.
_SLIDING_WINDOW = """
local key, now, window, count = KEYS[1], tonumber(ARGV[1]), tonumber(ARGV[2]), tonumber(ARGV[3])
redis.call('ZREMRANGEBYSCORE', key, '-inf', now - window)
if redis.call('ZCARD', key) >= count then
  local oldest = redis.call('ZRANGE', key, 0, 0, 'WITHSCORES')
  return {0, tonumber(oldest[2]) + window - now}
end
redis.call('ZADD', key, now, ARGV[4])
redis.call('PEXPIRE', key, window)
return {1, 0}
"""


class RedisLimiter:
    """Limits shared by every replica through one Redis; the local twin stands in during an outage."""

    def __init__(self, url: str, prefix: str = "arena:limit:"):
        import redis.asyncio as redis

        self._client: Any = redis.Redis.from_url(url, socket_timeout=0.5, socket_connect_timeout=0.5)
        self._script: Any = self._client.register_script(_SLIDING_WINDOW)
        self._prefix = prefix
        self._fallback = LocalLimiter()
        self._down_until = 0.0

    async def hit(self, key: str, limit: Limit) -> Verdict:
        now = time.monotonic()
        if now < self._down_until:
            return await self._fallback.hit(key, limit)
        try:
            allowed, wait_ms = await self._script(
                keys=[f"{self._prefix}{limit.name}:{key}"],
                args=[int(time.time() * 1000), int(limit.window_s * 1000), limit.count, uuid.uuid4().hex],
            )
        except Exception as exc:  # any Redis failure: degrade to this process's limits
            if self._down_until == 0.0:
                log.warning(
                    "Redis is unavailable (%s): limits are per process until it is back", exc.__class__.__name__
                )
            self._down_until = now + RETRY_REDIS_S
            return await self._fallback.hit(key, limit)
        if self._down_until:
            log.warning("Redis is back: limits are shared again")
            self._down_until = 0.0
        return Verdict(bool(allowed), max(0.0, float(wait_ms) / 1000))

    async def close(self) -> None:
        await self._client.aclose()


def make_limiter(redis_url: str | None) -> Limiter:
    return RedisLimiter(redis_url) if redis_url else LocalLimiter()
