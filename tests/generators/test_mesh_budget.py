"""Meshes are simplified to the face budget before they are encoded."""

from __future__ import annotations

import io

import numpy as np
import torch
import trimesh

from generators.hf_3d import mesh_to_glb
from generators.mesh_budget import simplify


def sphere():
    mesh = trimesh.creation.icosphere(subdivisions=5)  # 20,480 faces, radius 1
    vertices = np.asarray(mesh.vertices, dtype=np.float32)
    colors = np.tile(np.array([[200, 30, 30]], dtype=np.uint8), (len(vertices), 1))
    return vertices, np.asarray(mesh.faces), colors


def test_simplification_keeps_the_face_budget_and_the_shape():
    vertices, faces, colors = sphere()
    for budget in (10_000, 2_000, 300):
        v, f, c = simplify(vertices, faces, colors, budget)
        assert budget / 4 <= len(f) <= budget
        assert f.max() < len(v) and len(c) == len(v) and (c == [200, 30, 30]).all()
        assert np.abs(np.linalg.norm(v, axis=1) - 1).max() < 0.1  # still the unit sphere
        assert (f[:, 0] != f[:, 1]).all() and len(np.unique(np.sort(f, axis=1), axis=0)) == len(f)


def test_a_mesh_within_the_budget_is_left_alone():
    vertices, faces, colors = sphere()
    v, f, c = simplify(vertices, faces, colors, len(faces))
    assert v is vertices and f is faces and c is colors


def test_the_glb_carries_the_simplified_mesh():
    vertices, faces, _ = sphere()
    full = mesh_to_glb(torch.from_numpy(vertices), torch.from_numpy(faces), max_faces=len(faces))
    small = mesh_to_glb(torch.from_numpy(vertices), torch.from_numpy(faces), max_faces=1_000)
    assert small.faces <= 1_000 < full.faces and len(small.glb) < len(full.glb) / 5
    loaded = trimesh.load(io.BytesIO(small.glb), file_type="glb", force="mesh")
    assert len(loaded.faces) == small.faces
