"""Turn a models-file entry into a live Generator.

Backends are imported lazily so the default install (no torch) can run demo and
remote models.
"""
from __future__ import annotations

from generators.config import ModelEntry
from generators.protocol import ConfigError, Generator


def build_generator(entry: ModelEntry) -> Generator:
    if entry.backend == "demo":
        from generators.demo import build_demo

        return build_demo(entry)
    if entry.backend == "openai":
        from generators.remote import OpenAIGenerator

        return OpenAIGenerator(entry)
    try:
        if entry.backend == "hf-text":
            from generators.hf_text import HFTextGenerator as cls
        elif entry.backend == "hf-image":
            from generators.hf_image import HFImageGenerator as cls
        else:
            from generators.hf_3d import HF3DGenerator as cls
    except ImportError as exc:
        raise ConfigError(
            f"model {entry.name!r}: backend {entry.backend} needs the GPU extra "
            f"(pip install 'open-arena[gpu]'): {exc.name} is not installed"
        ) from None
    return cls(entry)
