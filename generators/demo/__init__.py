"""Offline demo models: text, image and 3D generators that need no GPU and no weights.

They run in-process, answer in well under 100 ms, are deterministic for a seed and
come in three quality levels, so a fresh install already has battles a person can
honestly judge.
"""

from __future__ import annotations

from generators.config import DemoEntry
from generators.protocol import Generator


def build_demo(entry: DemoEntry) -> Generator:
    """The demo generator for the entry's modality (modules imported on first use)."""
    if entry.modality == "text":
        from generators.demo.text import DemoTextGenerator

        return DemoTextGenerator(entry)
    if entry.modality == "image":
        from generators.demo.image import DemoImageGenerator

        return DemoImageGenerator(entry)
    from generators.demo.mesh import DemoMeshGenerator

    return DemoMeshGenerator(entry)
