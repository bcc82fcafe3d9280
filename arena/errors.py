"""Errors the services raise for bad requests; each maps to one HTTP status.

The message is written for the person who sent the request and never carries
internals (SQL, paths, secrets).
"""


class ArenaError(Exception):
    status = 400


class InvalidInput(ArenaError):
    status = 422


class NotFound(ArenaError):
    status = 404


class Forbidden(ArenaError):
    status = 403


class Conflict(ArenaError):
    status = 409


class Unavailable(ArenaError):
    status = 503
