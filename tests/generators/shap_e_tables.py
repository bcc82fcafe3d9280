"""Marching-cubes tables for randomly initialised Shap-E renderers.

Shared by the tests and benchmarks/generators.py: a random renderer's tables are
zero, so it could never produce a mesh; this gives it a crude but real one.
"""

from __future__ import annotations

import torch

# cube corners are numbered x + 2y + 4z; the renderer's 12 edges, in its own order
_CUBE_EDGES = [(0, 1), (2, 3), (4, 5), (6, 7), (0, 2), (1, 3), (4, 6), (5, 7), (0, 4), (1, 5), (2, 6), (3, 7)]


def crude_marching_cubes(renderer) -> None:
    """Fill the renderer's marching-cubes tables (weights data, zero when randomly
    initialised) with one triangle per surface-crossing cube, across three of its
    crossing edges: not a watertight surface, but a real mesh for a real field."""
    cases = torch.zeros(256, 5, 3, dtype=torch.long)
    masks = torch.zeros(256, 5, dtype=torch.bool)
    for case in range(1, 255):
        crossing = [i for i, (a, b) in enumerate(_CUBE_EDGES) if (case >> a & 1) != (case >> b & 1)]
        cases[case, 0] = torch.tensor(crossing[:3])
        masks[case, 0] = True
    renderer.mesh_decoder.cases.copy_(cases)
    renderer.mesh_decoder.masks.copy_(masks)
