"""Generators: one interface over demo, local GPU and remote OpenAI-compatible models.

The names below load on first use, so `import generators` (and the `arena` command
line, which builds `arena worker`'s parser from this package) stays light: pydantic,
YAML and the backends are imported only when a models file is read or a generator built.
"""

from __future__ import annotations

from importlib import import_module
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from generators.config import ModelEntry, load_models, parse_models
    from generators.protocol import (
        MODALITIES,
        ConfigError,
        FinishReason,
        GenerationRequest,
        Generator,
        GeneratorError,
        ImageOutput,
        InvalidRequestError,
        MeshOutput,
        Message,
        Modality,
        Output,
        TextOutput,
        TextStream,
        Usage,
    )
    from generators.registry import build_generator

_LAZY = {
    "ModelEntry": "config",
    "load_models": "config",
    "parse_models": "config",
    "build_generator": "registry",
    **dict.fromkeys(
        (
            "MODALITIES",
            "ConfigError",
            "FinishReason",
            "GenerationRequest",
            "Generator",
            "GeneratorError",
            "ImageOutput",
            "InvalidRequestError",
            "MeshOutput",
            "Message",
            "Modality",
            "Output",
            "TextOutput",
            "TextStream",
            "Usage",
        ),
        "protocol",
    ),
}

__all__ = [
    "MODALITIES",
    "ConfigError",
    "FinishReason",
    "GenerationRequest",
    "Generator",
    "GeneratorError",
    "ImageOutput",
    "InvalidRequestError",
    "MeshOutput",
    "Message",
    "Modality",
    "ModelEntry",
    "Output",
    "TextOutput",
    "TextStream",
    "Usage",
    "build_generator",
    "load_models",
    "parse_models",
]


def __getattr__(name: str) -> object:
    module = _LAZY.get(name)
    if module is None:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    value = getattr(import_module(f"{__name__}.{module}"), name)
    globals()[name] = value
    return value


def __dir__() -> list[str]:
    return sorted(set(globals()) | set(_LAZY))
