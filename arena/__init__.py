"""Open Arena: anonymous side-by-side battles, a vote store and leaderboards."""

__version__ = "0.1.0"
