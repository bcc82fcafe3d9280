"""Which backends exist, what each can make, and how to build one: a table.

`config.py` checks a models file against this table when it is loaded (an unknown
backend, or a modality the backend cannot make, fails at start naming the entry);
`build_generator` only looks the backend up. Builders are imported lazily so the
default install (no torch) can run demo and remote models.
"""

from __future__ import annotations

import importlib
from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING, cast

from generators.protocol import MODALITIES, ConfigError, Generator

if TYPE_CHECKING:
    from generators.config import ModelEntry


@dataclass(frozen=True)
class Backend:
    """One backend: the modalities it serves and `module:callable` that makes a Generator from an entry."""

    modalities: frozenset[str]
    builder: str
    extra: str | None = None  # the pip extra its imports need, named in the error when missing


BACKENDS: dict[str, Backend] = {
    "demo": Backend(frozenset(MODALITIES), "generators.demo:build_demo"),
    "openai": Backend(frozenset(MODALITIES), "generators.remote:OpenAIGenerator"),
    "hf-text": Backend(frozenset({"text"}), "generators.hf_text:HFTextGenerator", extra="gpu"),
    "hf-image": Backend(frozenset({"image"}), "generators.hf_image:HFImageGenerator", extra="gpu"),
    "hf-3d": Backend(frozenset({"3d"}), "generators.hf_3d:HF3DGenerator", extra="gpu"),
}


def known_backends() -> str:
    return ", ".join(BACKENDS)


def build_generator(entry: ModelEntry) -> Generator:
    backend = BACKENDS.get(entry.backend)
    if backend is None:  # config validation refuses these at load; an entry built by hand may still try
        raise ConfigError(f"model {entry.name!r}: unknown backend {entry.backend!r} (known: {known_backends()})")
    module_name, _, attribute = backend.builder.partition(":")
    try:
        module = importlib.import_module(module_name)
    except ImportError as exc:
        if backend.extra is None:
            raise
        raise ConfigError(
            f"model {entry.name!r}: backend {entry.backend} needs the {backend.extra.upper()} extra "
            f"(pip install 'open-arena[{backend.extra}]'): {exc.name} is not installed"
        ) from None
    builder = cast(Callable[["ModelEntry"], Generator], getattr(module, attribute))
    return builder(entry)
