"""Generators: one interface over demo, local GPU and remote OpenAI-compatible models.

The names below load on first use, so `import generators` (and the `arena` command
line, which builds `arena worker`'s parser from this package) stays light: pydantic,
YAML and the backends are imported only when a models file is read or a generator built.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from generators.lazy import lazy_exports

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


__getattr__, __dir__ = lazy_exports(__name__, globals(), _LAZY)
