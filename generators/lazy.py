"""Names a package exports but imports on first use, so `import generators` stays light.

The `arena` command line builds `arena worker`'s parser from this package and counts its
start-up time: pydantic, YAML and the backends load only when a command needs them.
(ranking/ has its own copy: the two packages import nothing from each other.)
"""

from __future__ import annotations

from collections.abc import Callable, MutableMapping
from importlib import import_module
from typing import Any


def lazy_exports(
    package: str, namespace: MutableMapping[str, Any], table: dict[str, str]
) -> tuple[Callable[[str], object], Callable[[], list[str]]]:
    """`__getattr__` and `__dir__` for `package`: `table` maps a name to its submodule."""

    def getattr_(name: str) -> object:
        module = table.get(name)
        if module is None:
            raise AttributeError(f"module {package!r} has no attribute {name!r}")
        value = getattr(import_module(f".{module}", package), name)
        namespace[name] = value
        return value

    def dir_() -> list[str]:
        return sorted(set(namespace) | set(table))

    return getattr_, dir_
