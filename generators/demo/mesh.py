"""Demo 3D models: GLB meshes composed from primitives chosen by the prompt's words.

Quality 1 returns one coarse grey primitive (the main body of the first object it
recognises); quality 2 builds every recognised object from its parts, coarsely
tessellated and in one flat colour each, without normals (faceted); quality 3
adds small parts, per-part colours and smooth, finely tessellated surfaces with
normals, so geometry, texture and alignment can all be judged.
"""

from __future__ import annotations

import asyncio
from typing import cast

import numpy as np
import trimesh

from generators.demo.base import DemoGenerator
from generators.demo.recipes import RECIPES, Part, gem
from generators.demo.shapes3d import COARSE, HIGH, LOW, Detail
from generators.demo.vocabulary import RGB, Mention, mentions, words
from generators.protocol import GenerationRequest, MeshOutput

GREY: RGB = (150, 150, 155)
GAP = 0.25
MAX_COPIES = 4
_COMPOUNDS = {("pine", "tree"), ("pine", "pine")}  # "pine tree" is one object, not a pine and a tree


class DemoMeshGenerator(DemoGenerator):
    async def _generate(self, request: GenerationRequest) -> MeshOutput:
        self.check_fail()
        glb, vertices, faces = await asyncio.to_thread(build_glb, request.prompt, self.quality)
        return MeshOutput(glb=glb, vertices=vertices, faces=faces)


def read_objects(prompt: str) -> list[Mention]:
    """The objects to build, in prompt order, with "pine tree" read as one object."""
    found, loose = mentions(prompt, RECIPES)
    objects: list[Mention] = []
    for thing in found:
        if objects and (objects[-1].noun, thing.noun) in _COMPOUNDS:
            continue
        objects.append(thing)
    if not objects:  # nothing known: a coloured default, in the prompt's colour if it names one
        objects = [Mention("gem", loose[0] if loose else _colour_of_words(prompt), 1)]
    return objects


def _colour_of_words(prompt: str) -> RGB:
    """A stable colour for an unknown prompt, so different unknown prompts still differ."""
    value = sum((i + 1) * ord(ch) for i, ch in enumerate(" ".join(words(prompt))))
    return (60 + value % 170, 60 + (value // 170) % 170, 60 + (value // 28900) % 170)


def build_parts(prompt: str, quality: int) -> list[Part]:
    """The coloured parts of the whole composition, laid out side by side along X."""
    objects = read_objects(prompt)
    detail: Detail = {1: COARSE, 2: LOW}.get(quality, HIGH)
    stack = "stack" in words(prompt)
    placed: list[Part] = []
    cursor = 0.0
    for thing in objects[:1] if quality == 1 else objects:
        recipe, default = RECIPES.get(thing.noun, (gem, GREY))
        colour = thing.colour or default
        lift = 0.0
        for _ in range(1 if quality == 1 else min(thing.count, MAX_COPIES)):
            parts = recipe(detail, colour)
            if quality == 1:
                parts = [Part(parts[0].mesh, GREY)]
            elif quality == 2:
                parts = [Part(part.mesh, colour) for part in parts]
            low, high = _bounds(parts)
            for part in parts:
                part.mesh.apply_translation((cursor - low[0], lift, 0.0))
            placed += parts
            if stack:
                lift += high[1] - low[1]
            else:
                cursor += high[0] - low[0] + GAP
        if stack:
            cursor += high[0] - low[0] + GAP
    low, high = _bounds(placed)
    centre = (-(low[0] + high[0]) / 2, -low[1], -(low[2] + high[2]) / 2)
    for part in placed:
        part.mesh.apply_translation(centre)
    return placed


def _bounds(parts: list[Part]) -> tuple[np.ndarray, np.ndarray]:
    corners = np.vstack([part.mesh.bounds for part in parts])
    return corners.min(axis=0), corners.max(axis=0)


def build_glb(prompt: str, quality: int) -> tuple[bytes, int, int]:
    """GLB bytes plus vertex and face counts of the single exported mesh."""
    meshes = []
    for part in build_parts(prompt, quality):
        mesh = part.mesh
        mesh.visual = trimesh.visual.ColorVisuals(
            mesh, vertex_colors=np.tile([*part.colour, 255], (len(mesh.vertices), 1))
        )
        meshes.append(mesh)
    combined = cast(trimesh.Trimesh, trimesh.util.concatenate(meshes))
    glb = trimesh.exchange.gltf.export_glb(trimesh.Scene(combined), include_normals=quality == 3)
    return glb, len(combined.vertices), len(combined.faces)
