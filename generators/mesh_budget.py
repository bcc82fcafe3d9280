"""Meshes of a size a browser can take: vertex clustering down to a face budget.

A Shap-E decode at grid 128 gives about 2M vertices (56 MB of GLB, over the remote
backend's 32 MiB response cap). Clustering snaps vertices to a uniform grid over the
mesh's bounding box, merges each cell's vertices into their mean (colours averaged
too) and drops faces that collapse or repeat; the grid is refined until the result
is at most `max_faces`. It is numpy only: trimesh's quadric decimation needs the
`fast_simplification` package, which the default install does not carry, and
clustering is good enough for marching-cubes output, whose triangles are near-uniform.
"""

from __future__ import annotations

import numpy as np

DEFAULT_MAX_FACES = 100_000
_TRIES = 24


def simplify(
    vertices: np.ndarray, faces: np.ndarray, colors: np.ndarray | None, max_faces: int
) -> tuple[np.ndarray, np.ndarray, np.ndarray | None]:
    """At most `max_faces` faces: the input itself when it already fits, else a clustered copy.

    vertices (n, 3) float, faces (m, 3) int, colors (n, k) uint8 or None.
    """
    if len(faces) <= max_faces:
        return vertices, faces, colors
    # a closed surface on an r-cell grid has a few r² faces: start there, refine until it fits
    resolution = max(2.0, np.sqrt(max_faces / 2))
    for _ in range(_TRIES):
        result = cluster(vertices, faces, colors, int(resolution))
        if len(result[1]) <= max_faces:
            return result
        resolution = max(1.0, resolution * np.sqrt(max_faces / len(result[1])) * 0.97)
    return cluster(vertices, faces, colors, 1)


def cluster(
    vertices: np.ndarray, faces: np.ndarray, colors: np.ndarray | None, resolution: int
) -> tuple[np.ndarray, np.ndarray, np.ndarray | None]:
    """Merge the vertices in each cell of a `resolution`³ grid; keep the faces that stay triangles, once."""
    low = vertices.min(axis=0)
    extent = np.maximum(vertices.max(axis=0) - low, 1e-12)
    cells = np.minimum((vertices - low) / extent * resolution, resolution - 1).astype(np.int64)
    keys = (cells[:, 0] * resolution + cells[:, 1]) * resolution + cells[:, 2]
    _, cluster_of, sizes = np.unique(keys, return_inverse=True, return_counts=True)
    merged = np.zeros((len(sizes), 3), dtype=np.float64)
    np.add.at(merged, cluster_of, vertices)
    merged = (merged / sizes[:, None]).astype(vertices.dtype)
    new_colors = None
    if colors is not None:
        summed = np.zeros((len(sizes), colors.shape[1]), dtype=np.float64)
        np.add.at(summed, cluster_of, colors)
        new_colors = np.round(summed / sizes[:, None]).astype(colors.dtype)
    remapped = cluster_of[faces]
    proper = (
        (remapped[:, 0] != remapped[:, 1]) & (remapped[:, 1] != remapped[:, 2]) & (remapped[:, 0] != remapped[:, 2])
    )
    remapped = remapped[proper]
    _, first = np.unique(np.sort(remapped, axis=1), axis=0, return_index=True)
    kept = remapped[np.sort(first)]
    used, compact = np.unique(kept, return_inverse=True)
    return (
        merged[used],
        compact.reshape(-1, 3),
        None if new_colors is None else new_colors[used],
    )
