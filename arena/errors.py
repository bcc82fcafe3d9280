"""Errors the services raise for bad requests; each maps to one HTTP status.

The message is written for the person who sent the request and never carries
internals (SQL, paths, secrets).
"""


class ArenaError(Exception):
    status = 400
    retry_after_s: float | None = None  # when set, the answer carries Retry-After


class InvalidInput(ArenaError):
    status = 422


class NotFound(ArenaError):
    status = 404


class Forbidden(ArenaError):
    status = 403


class Conflict(ArenaError):
    status = 409


class Unavailable(ArenaError):
    """Not now: too few models, or the database briefly away (then with a retry-after)."""

    status = 503

    def __init__(self, message: str, retry_after_s: float | None = None):
        super().__init__(message)
        self.retry_after_s = retry_after_s


class TooManyRequests(ArenaError):
    """An abuse limit was reached; the answer carries Retry-After."""

    status = 429

    def __init__(self, message: str, retry_after_s: float):
        super().__init__(message)
        self.retry_after_s = retry_after_s
