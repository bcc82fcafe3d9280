"""Primitive builders for the demo 3D models, Y up, at a chosen level of detail.

glTF is Y-up, while trimesh builds cylinders, cones and revolved profiles along
Z; these helpers place every primitive in glTF's frame so recipes can think in
"height" and "ground".
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import trimesh

Vec = tuple[float, float, float]
_Z_TO_Y = trimesh.transformations.rotation_matrix(-np.pi / 2, [1, 0, 0])


@dataclass(frozen=True)
class Detail:
    """Tessellation and embellishment of one quality level."""

    sections: int  # around cylinders, cones, tori and revolved profiles
    subdivisions: int  # icosphere subdivisions for large spheres
    extras: bool  # small parts (eyes, windows, spots) and per-part colours


COARSE = Detail(sections=6, subdivisions=1, extras=False)
LOW = Detail(sections=10, subdivisions=1, extras=False)
HIGH = Detail(sections=40, subdivisions=3, extras=True)


def _upright(mesh: trimesh.Trimesh, at: Vec) -> trimesh.Trimesh:
    mesh.apply_transform(_Z_TO_Y)
    mesh.apply_translation(at)
    return mesh


def box(size: Vec, at: Vec) -> trimesh.Trimesh:
    """A box whose bottom face is centred on `at`; faces keep their own vertices so it shades crisply."""
    mesh = trimesh.creation.box(extents=size)
    mesh.apply_translation((at[0], at[1] + size[1] / 2, at[2]))
    return trimesh.Trimesh(
        mesh.vertices[mesh.faces].reshape(-1, 3), np.arange(len(mesh.faces) * 3).reshape(-1, 3), process=False
    )


def sphere(detail: Detail, radius: float, at: Vec, scale: Vec = (1, 1, 1)) -> trimesh.Trimesh:
    """An icosphere (ellipsoid with `scale`); small ones stay coarse to keep the GLB small."""
    mesh = trimesh.creation.icosphere(subdivisions=detail.subdivisions if radius > 0.08 else 1, radius=radius)
    mesh.apply_scale(scale)
    mesh.apply_translation(at)
    return mesh


def rod(detail: Detail, radius: float, start: Vec, end: Vec) -> trimesh.Trimesh:
    """A cylinder between two points (legs, poles, wheels, arms)."""
    sections = max(6, detail.sections // (2 if radius < 0.05 else 1))
    return trimesh.creation.cylinder(radius=radius, segment=[start, end], sections=sections)


def cone(detail: Detail, radius: float, height: float, at: Vec, sections: int | None = None) -> trimesh.Trimesh:
    """A cone standing on `at`, tip up (roofs, noses, pyramids with sections=4)."""
    return _upright(trimesh.creation.cone(radius=radius, height=height, sections=sections or detail.sections), at)


def lathe(detail: Detail, profile: list[tuple[float, float]], at: Vec) -> trimesh.Trimesh:
    """A solid of revolution from (radius, height) points, bottom to top (vases, bottles, pawns)."""
    return _upright(trimesh.creation.revolve(np.asarray(profile, dtype=float), sections=detail.sections), at)


def ring(detail: Detail, major: float, minor: float, at: Vec, upright: bool = False) -> trimesh.Trimesh:
    """A torus lying flat (donut), or standing in the XY plane when `upright` (mug handle)."""
    mesh = trimesh.creation.torus(
        major, minor, major_sections=detail.sections, minor_sections=max(6, detail.sections // 2)
    )
    if not upright:
        mesh.apply_transform(_Z_TO_Y)
    mesh.apply_translation(at)
    return mesh
