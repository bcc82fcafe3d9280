"""The public web page (Gradio): battles, votes, voter profile, leaderboard, about."""

from arena.ui.app import build_ui, mount

__all__ = ["build_ui", "mount"]
