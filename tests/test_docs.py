"""Every setting and every `arena` command is documented in README.md (after datasette's test_docs.py).

Environment variable names are collected two ways, so that neither a literal
`os.environ.get("ARENA_X")` nor a name built at run time (arena.settings builds some as
f"ARENA_{name.upper()}") can escape: every `ARENA_*` literal in the sources of arena/,
generators/ and ranking/, and every `ARENA_*` name that `from_environment` looks up when
run against an environment that records what it is asked for.
"""

from __future__ import annotations

import argparse
import os
import re
from pathlib import Path

import arena.settings
from arena.cli import build_parser

ROOT = Path(__file__).resolve().parents[1]
README = (ROOT / "README.md").read_text(encoding="utf-8")
PACKAGES = ("arena", "generators", "ranking")
NAME = re.compile(r"(?<![A-Za-z0-9_])ARENA_[A-Z0-9_]*[A-Z0-9]")
DYNAMIC = re.compile(r"""f["'][^"'\n]*ARENA_\{""")


def sources() -> list[Path]:
    return sorted(path for package in PACKAGES for path in (ROOT / package).rglob("*.py"))


def literal_names() -> set[str]:
    return {name for path in sources() for name in NAME.findall(path.read_text(encoding="utf-8"))}


class RecordingEnvironment(dict):
    """An empty os.environ that remembers every name it is asked for."""

    def __init__(self) -> None:
        super().__init__()
        self.asked: set[str] = set()

    def __getitem__(self, key):
        self.asked.add(key)
        return super().__getitem__(key)

    def get(self, key, default=None):
        self.asked.add(key)
        return super().get(key, default)

    def __contains__(self, key):
        self.asked.add(key)
        return super().__contains__(key)


def names_read_by_from_environment(monkeypatch) -> set[str]:
    recorder = RecordingEnvironment()
    monkeypatch.setattr(os, "environ", recorder)
    arena.settings.from_environment()
    return {name for name in recorder.asked if name.startswith("ARENA_")}


def environment_variables(monkeypatch) -> set[str]:
    registry = set(getattr(arena.settings, "ENVIRONMENT_VARIABLES", ()))  # a public registry, should one appear
    return literal_names() | names_read_by_from_environment(monkeypatch) | registry


def test_the_recorder_sees_settings_names_literal_and_built(monkeypatch):
    asked = names_read_by_from_environment(monkeypatch)
    settings_literals = set(NAME.findall(Path(arena.settings.__file__).read_text(encoding="utf-8")))
    assert settings_literals <= asked
    assert "ARENA_MAX_PROMPT_CHARS" in asked  # built as f"ARENA_{name.upper()}"


def test_names_are_built_at_run_time_only_where_the_recorder_sees_them():
    built_elsewhere = [
        str(path.relative_to(ROOT))
        for path in sources()
        if DYNAMIC.search(path.read_text(encoding="utf-8")) and path != Path(arena.settings.__file__).resolve()
    ]
    assert not built_elsewhere, (
        f"ARENA_* names built from f-strings in {built_elsewhere}: this test cannot list them; "
        "read them in arena.settings.from_environment or list them in a registry"
    )


def test_every_environment_variable_is_documented_in_the_readme(monkeypatch):
    names = environment_variables(monkeypatch)
    assert "ARENA_DATA_DIR" in names
    missing = sorted(name for name in names if f"`{name}`" not in README)
    assert not missing, f"environment variables missing from README.md: {', '.join(missing)}"


def commands(parser: argparse.ArgumentParser, prefix: str = "arena") -> list[str]:
    found = []
    for action in parser._actions:
        if isinstance(action, argparse._SubParsersAction):
            for name, subparser in action.choices.items():
                found.append(f"{prefix} {name}")
                found.extend(commands(subparser, f"{prefix} {name}"))
    return found


def test_every_cli_command_is_mentioned_in_the_readme():
    found = commands(build_parser())
    assert {"arena serve", "arena db", "arena db upgrade", "arena simulate", "arena rank", "arena worker"} <= set(found)
    missing = [command for command in found if not re.search(rf"{re.escape(command)}(?![\w-])", README)]
    assert not missing, f"arena commands missing from README.md: {', '.join(missing)}"
