"""How each known 3D noun is built from primitives, in object space (Y up, on y=0).

A recipe returns coloured parts; the first part is the object's main body (the
only one the quality-1 model keeps). Parts that only add charm (eyes, windows,
spots) are built only when `detail.extras` is on.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import NamedTuple

import numpy as np
import trimesh

from generators.demo.shapes3d import Detail, box, cone, lathe, ring, rod, sphere
from generators.demo.vocabulary import RGB, shade


class Part(NamedTuple):
    mesh: trimesh.Trimesh
    colour: RGB


Recipe = Callable[[Detail, RGB], list[Part]]

BLACK: RGB = (25, 25, 30)
WHITE: RGB = (240, 240, 240)
WOOD: RGB = (150, 105, 60)
GREEN: RGB = (60, 150, 70)
ORANGE: RGB = (240, 130, 30)
YELLOW: RGB = (245, 205, 40)
GLASS: RGB = (170, 210, 230)


def _legs(k: Detail, c: RGB, w: float, d: float, h: float, r: float = 0.03) -> list[Part]:
    return [Part(rod(k, r, (x, 0, z), (x, h, z)), c) for x in (-w, w) for z in (-d, d)]


def chair(k: Detail, c: RGB) -> list[Part]:
    parts = [Part(box((0.5, 0.07, 0.5), (0, 0.45, 0)), c), Part(box((0.5, 0.5, 0.06), (0, 0.52, -0.22)), c)]
    return parts + _legs(k, shade(c, 0.7), 0.21, 0.21, 0.45)


def table(k: Detail, c: RGB) -> list[Part]:
    return [Part(box((1.1, 0.07, 0.7), (0, 0.72, 0)), c)] + _legs(k, shade(c, 0.75), 0.48, 0.28, 0.72, 0.04)


def bench(k: Detail, c: RGB) -> list[Part]:
    parts = [Part(box((1.4, 0.06, 0.4), (0, 0.42, 0)), c), Part(box((1.4, 0.3, 0.05), (0, 0.55, -0.18)), c)]
    return parts + _legs(k, BLACK, 0.6, 0.15, 0.42)


def snowman(k: Detail, c: RGB) -> list[Part]:
    parts = [
        Part(sphere(k, 0.35, (0, 0.33, 0)), c),
        Part(sphere(k, 0.26, (0, 0.85, 0)), c),
        Part(sphere(k, 0.18, (0, 1.22, 0)), c),
    ]
    if k.extras:
        parts += [
            Part(rod(k, 0.2, (0, 1.36, 0), (0, 1.38, 0)), BLACK),
            Part(rod(k, 0.13, (0, 1.38, 0), (0, 1.62, 0)), BLACK),
            Part(cone(k, 0.035, 0.2, (0, 1.22, 0.16)).apply_transform(_tilt_forward((0, 1.22, 0.16))), ORANGE),
        ]
        parts += [Part(sphere(k, 0.025, (x, 1.27, 0.155)), BLACK) for x in (-0.06, 0.06)]
        parts += [Part(sphere(k, 0.03, (0, y, 0.25)), BLACK) for y in (0.75, 0.88)]
    return parts


def _tilt_forward(pivot: tuple[float, float, float]) -> np.ndarray:
    return trimesh.transformations.rotation_matrix(np.pi / 2, [1, 0, 0], point=pivot)


def tree(k: Detail, c: RGB) -> list[Part]:
    parts = [Part(sphere(k, 0.42, (0, 1.0, 0)), c), Part(rod(k, 0.08, (0, 0, 0), (0, 0.7, 0)), WOOD)]
    if k.extras:
        parts += [
            Part(sphere(k, 0.3, (x, 0.9, z)), shade(c, f))
            for x, z, f in ((0.3, 0.1, 0.85), (-0.28, -0.05, 0.9), (0.05, -0.3, 1.1))
        ]
    return parts


def pine(k: Detail, c: RGB) -> list[Part]:
    parts = [Part(cone(k, 0.5, 0.7, (0, 0.25, 0)), c), Part(rod(k, 0.07, (0, 0, 0), (0, 0.3, 0)), WOOD)]
    if k.extras:
        parts += [Part(cone(k, 0.4 - 0.1 * i, 0.55, (0, 0.6 + 0.3 * i, 0)), shade(c, 1 + 0.1 * i)) for i in range(2)]
    return parts


def house(k: Detail, c: RGB) -> list[Part]:
    roof = cone(k, 0.78, 0.5, (0, 0.7, 0), sections=4)
    roof.apply_transform(trimesh.transformations.rotation_matrix(np.pi / 4, [0, 1, 0]))
    parts = [Part(box((1.0, 0.7, 0.8), (0, 0, 0)), c), Part(roof, shade(c, 0.5) if c != WHITE else (180, 50, 40))]
    if k.extras:
        parts += [
            Part(box((0.18, 0.35, 0.02), (0, 0, 0.41)), WOOD),
            Part(box((0.1, 0.35, 0.1), (0.25, 0.8, 0.1)), (120, 60, 50)),
        ]
        parts += [Part(box((0.18, 0.16, 0.02), (x, 0.38, 0.41)), GLASS) for x in (-0.3, 0.3)]
    return parts


def car(k: Detail, c: RGB) -> list[Part]:
    parts = [Part(box((1.4, 0.35, 0.7), (0, 0.18, 0)), c), Part(box((0.8, 0.3, 0.62), (-0.1, 0.53, 0)), c)]
    parts += [
        Part(rod(k, 0.16, (x, 0.16, z - 0.05), (x, 0.16, z + 0.05)), BLACK)
        for x in (-0.45, 0.45)
        for z in (-0.35, 0.35)
    ]
    if k.extras:
        parts += [
            Part(box((0.82, 0.14, 0.64), (-0.1, 0.6, 0)), GLASS),
            Part(box((0.02, 0.08, 0.15), (0.71, 0.35, 0.2)), YELLOW),
            Part(box((0.02, 0.08, 0.15), (0.71, 0.35, -0.2)), YELLOW),
        ]
    return parts


def lamp(k: Detail, c: RGB) -> list[Part]:
    shade_part = lathe(k, [(0.0, 1.15), (0.28, 1.15), (0.15, 1.45), (0.0, 1.45)], (0, 0, 0))
    parts = [
        Part(shade_part, c),
        Part(rod(k, 0.03, (0, 0.04, 0), (0, 1.2, 0)), BLACK),
        Part(rod(k, 0.2, (0, 0, 0), (0, 0.04, 0)), BLACK),
    ]
    if k.extras:
        parts.append(Part(sphere(k, 0.07, (0, 1.18, 0)), YELLOW))
    return parts


def mug(k: Detail, c: RGB) -> list[Part]:
    parts = [
        Part(lathe(k, [(0.0, 0.0), (0.2, 0.0), (0.21, 0.45), (0.18, 0.45), (0.17, 0.05), (0.0, 0.05)], (0, 0, 0)), c),
        Part(ring(k, 0.12, 0.03, (0.23, 0.23, 0), upright=True), c),
    ]
    if k.extras:
        parts.append(Part(rod(k, 0.175, (0, 0.36, 0), (0, 0.38, 0)), (80, 45, 25)))
    return parts


def rocket(k: Detail, c: RGB) -> list[Part]:
    parts = [Part(rod(k, 0.18, (0, 0.2, 0), (0, 1.2, 0)), c), Part(cone(k, 0.18, 0.45, (0, 1.2, 0)), (200, 40, 40))]
    for angle in (0, 2 * np.pi / 3, 4 * np.pi / 3):
        fin = box((0.04, 0.35, 0.25), (0, 0.2, 0.25))
        fin.apply_transform(trimesh.transformations.rotation_matrix(angle, [0, 1, 0]))
        parts.append(Part(fin, (200, 40, 40)))
    if k.extras:
        parts += [
            Part(sphere(k, 0.07, (0, 0.9, 0.17)), GLASS),
            Part(
                cone(k, 0.12, 0.25, (0, 0.2, 0)).apply_transform(
                    trimesh.transformations.rotation_matrix(np.pi, [1, 0, 0], point=(0, 0.2, 0))
                ),
                ORANGE,
            ),
        ]
    return parts


def tower(k: Detail, c: RGB) -> list[Part]:
    parts = [Part(rod(k, 0.3, (0, 0, 0), (0, 1.6, 0)), c)]
    if k.extras:
        parts += [
            Part(box((0.1, 0.12, 0.1), (0.3 * np.cos(a), 1.6, 0.3 * np.sin(a))), c)
            for a in np.linspace(0, 2 * np.pi, 8, endpoint=False)
        ]
        parts.append(Part(box((0.12, 0.2, 0.02), (0, 1.1, 0.3)), BLACK))
    return parts


def robot(k: Detail, c: RGB) -> list[Part]:
    parts = [
        Part(box((0.5, 0.55, 0.3), (0, 0.5, 0)), c),
        Part(box((0.32, 0.28, 0.28), (0, 1.08, 0)), c),
        Part(box((0.12, 0.5, 0.12), (-0.13, 0, 0)), shade(c, 0.7)),
        Part(box((0.12, 0.5, 0.12), (0.13, 0, 0)), shade(c, 0.7)),
        Part(rod(k, 0.05, (-0.3, 1.0, 0), (-0.35, 0.55, 0)), shade(c, 0.7)),
        Part(rod(k, 0.05, (0.3, 1.0, 0), (0.35, 0.55, 0)), shade(c, 0.7)),
    ]
    if k.extras:
        parts += [Part(sphere(k, 0.04, (x, 1.24, 0.14)), (60, 140, 255)) for x in (-0.07, 0.07)]
        parts += [
            Part(rod(k, 0.012, (0, 1.36, 0), (0, 1.5, 0)), BLACK),
            Part(sphere(k, 0.035, (0, 1.52, 0)), (230, 40, 40)),
        ]
    return parts


def mushroom(k: Detail, c: RGB) -> list[Part]:
    parts = [
        Part(sphere(k, 0.45, (0, 0.5, 0), scale=(1, 0.55, 1)), c),
        Part(rod(k, 0.13, (0, 0, 0), (0, 0.55, 0)), (235, 225, 200)),
    ]
    if k.extras:
        for a, e in ((0.3, 0.5), (1.9, 0.6), (3.4, 0.4), (4.6, 0.7), (5.6, 0.3), (0.0, 1.45)):
            x, z = 0.4 * np.cos(a) * np.cos(e), 0.4 * np.sin(a) * np.cos(e)
            parts.append(Part(sphere(k, 0.055, (x, 0.5 + 0.55 * 0.45 * np.sin(e), z)), WHITE))
    return parts


def bottle(k: Detail, c: RGB) -> list[Part]:
    parts = [Part(lathe(k, [(0.0, 0.0), (0.18, 0.0), (0.18, 0.6), (0.07, 0.8), (0.06, 1.0), (0.0, 1.0)], (0, 0, 0)), c)]
    if k.extras:
        parts += [
            Part(rod(k, 0.065, (0, 0.98, 0), (0, 1.05, 0)), (200, 170, 60)),
            Part(rod(k, 0.182, (0, 0.2, 0), (0, 0.4, 0)), WHITE),
        ]
    return parts


def ball(k: Detail, c: RGB) -> list[Part]:
    return [Part(sphere(k, 0.4, (0, 0.4, 0)), c)]


def cube(k: Detail, c: RGB) -> list[Part]:
    parts = [Part(box((0.6, 0.6, 0.6), (0, 0, 0)), c)]
    if k.extras:
        parts += [Part(box((0.62, 0.06, 0.62), (0, y, 0)), shade(c, 0.7)) for y in (0.05, 0.5)]
    return parts


def pyramid(k: Detail, c: RGB) -> list[Part]:
    return [Part(cone(k, 0.6, 0.7, (0, 0, 0), sections=4), c)]


def traffic_cone(k: Detail, c: RGB) -> list[Part]:
    parts = [Part(cone(k, 0.22, 0.7, (0, 0.04, 0)), c), Part(box((0.5, 0.04, 0.5), (0, 0, 0)), c)]
    if k.extras:
        parts.append(Part(rod(k, 0.135, (0, 0.3, 0), (0, 0.4, 0)), WHITE))
    return parts


def donut(k: Detail, c: RGB) -> list[Part]:
    parts = [Part(ring(k, 0.3, 0.14, (0, 0.14, 0)), (215, 160, 90) if k.extras else c)]
    if k.extras:
        parts.append(Part(ring(k, 0.3, 0.125, (0, 0.18, 0)).apply_scale((1, 0.8, 1)), c))
        parts += [
            Part(
                box((0.05, 0.015, 0.015), (0.3 * np.cos(a), 0.28, 0.3 * np.sin(a))),
                (YELLOW, WHITE, (60, 120, 230))[i % 3],
            )
            for i, a in enumerate(np.linspace(0, 2 * np.pi, 12, endpoint=False))
        ]
    return parts


def pawn(k: Detail, c: RGB) -> list[Part]:
    return [
        Part(
            lathe(
                k,
                [(0.0, 0.0), (0.28, 0.0), (0.28, 0.08), (0.2, 0.15), (0.1, 0.55), (0.16, 0.6), (0.0, 0.62)],
                (0, 0, 0),
            ),
            c,
        ),
        Part(sphere(k, 0.15, (0, 0.72, 0)), c),
    ]


def hat(k: Detail, c: RGB) -> list[Part]:
    parts = [Part(rod(k, 0.25, (0, 0.03, 0), (0, 0.5, 0)), c), Part(rod(k, 0.42, (0, 0, 0), (0, 0.03, 0)), c)]
    if k.extras:
        parts.append(Part(rod(k, 0.255, (0, 0.05, 0), (0, 0.13, 0)), (180, 30, 30)))
    return parts


def duck(k: Detail, c: RGB) -> list[Part]:
    parts = [Part(sphere(k, 0.3, (0, 0.25, 0), scale=(1.3, 0.8, 1)), c), Part(sphere(k, 0.18, (0.25, 0.58, 0)), c)]
    if k.extras:
        parts += [Part(sphere(k, 0.08, (0.45, 0.55, 0), scale=(1.2, 0.4, 1)), ORANGE)]
        parts += [Part(sphere(k, 0.025, (0.36, 0.64, z)), BLACK) for z in (-0.1, 0.1)]
    return parts


def bear(k: Detail, c: RGB) -> list[Part]:
    parts = [Part(sphere(k, 0.32, (0, 0.35, 0), scale=(1, 1.15, 0.9)), c), Part(sphere(k, 0.22, (0, 0.86, 0)), c)]
    parts += [Part(sphere(k, 0.12, (x, 0.12, 0.15)), c) for x in (-0.18, 0.18)]
    parts += [Part(sphere(k, 0.1, (x, 0.45, 0.12)), c) for x in (-0.3, 0.3)]
    parts += [Part(sphere(k, 0.08, (x, 1.05, 0)), c) for x in (-0.16, 0.16)]
    if k.extras:
        parts += [Part(sphere(k, 0.09, (0, 0.82, 0.18)), shade(c, 1.4)), Part(sphere(k, 0.03, (0, 0.85, 0.27)), BLACK)]
        parts += [Part(sphere(k, 0.025, (x, 0.93, 0.19)), BLACK) for x in (-0.08, 0.08)]
    return parts


def lighthouse(k: Detail, c: RGB) -> list[Part]:
    body = lathe(k, [(0.0, 0.0), (0.32, 0.0), (0.2, 1.5), (0.0, 1.5)], (0, 0, 0))
    parts = [Part(body, WHITE if k.extras else c), Part(cone(k, 0.25, 0.3, (0, 1.75, 0)), c)]
    if k.extras:
        parts += [
            Part(rod(k, 0.16, (0, 1.5, 0), (0, 1.75, 0)), (250, 235, 150)),
            Part(lathe(k, [(0.0, 0.4), (0.28, 0.4), (0.253, 0.65), (0.0, 0.65)], (0, 0, 0)), c),
            Part(lathe(k, [(0.0, 0.95), (0.255, 0.95), (0.232, 1.15), (0.0, 1.15)], (0, 0, 0)), c),
        ]
    return parts


def vase(k: Detail, c: RGB) -> list[Part]:
    return [
        Part(
            lathe(
                k, [(0.0, 0.0), (0.15, 0.0), (0.28, 0.3), (0.22, 0.6), (0.12, 0.8), (0.16, 0.9), (0.0, 0.9)], (0, 0, 0)
            ),
            c,
        )
    ]


def hydrant(k: Detail, c: RGB) -> list[Part]:
    parts = [
        Part(rod(k, 0.18, (0, 0.05, 0), (0, 0.7, 0)), c),
        Part(sphere(k, 0.18, (0, 0.7, 0)), c),
        Part(rod(k, 0.25, (0, 0, 0), (0, 0.06, 0)), c),
    ]
    if k.extras:
        parts += [
            Part(rod(k, 0.06, (-0.3, 0.5, 0), (0.3, 0.5, 0)), shade(c, 0.8)),
            Part(rod(k, 0.03, (0, 0.85, 0), (0, 0.93, 0)), shade(c, 0.8)),
        ]
    return parts


def cactus(k: Detail, c: RGB) -> list[Part]:
    parts = [
        Part(rod(k, 0.14, (0, 0, 0), (0, 1.0, 0)), c),
        Part(sphere(k, 0.14, (0, 1.0, 0)), c),
        Part(rod(k, 0.08, (0, 0.45, 0), (0.28, 0.45, 0)), c),
        Part(rod(k, 0.08, (0.28, 0.45, 0), (0.28, 0.75, 0)), c),
    ]
    if k.extras:
        parts += [Part(sphere(k, 0.08, (0.28, 0.75, 0)), c), Part(sphere(k, 0.06, (0, 1.15, 0)), (240, 90, 150))]
    return parts


def barrel(k: Detail, c: RGB) -> list[Part]:
    parts = [Part(lathe(k, [(0.0, 0.0), (0.25, 0.0), (0.3, 0.35), (0.25, 0.7), (0.0, 0.7)], (0, 0, 0)), c)]
    if k.extras:
        parts += [Part(ring(k, r, 0.015, (0, y, 0)), BLACK) for r, y in ((0.27, 0.12), (0.27, 0.58))]
    return parts


def candle(k: Detail, c: RGB) -> list[Part]:
    parts = [Part(rod(k, 0.08, (0, 0, 0), (0, 0.5, 0)), c)]
    if k.extras:
        parts += [
            Part(sphere(k, 0.035, (0, 0.57, 0), scale=(1, 1.8, 1)), ORANGE),
            Part(rod(k, 0.005, (0, 0.5, 0), (0, 0.53, 0)), BLACK),
        ]
    return parts


def sofa(k: Detail, c: RGB) -> list[Part]:
    parts = [Part(box((1.6, 0.4, 0.8), (0, 0, 0)), c), Part(box((1.6, 0.45, 0.2), (0, 0.4, -0.3)), c)]
    parts += [Part(box((0.2, 0.25, 0.8), (x, 0.4, 0)), c) for x in (-0.7, 0.7)]
    if k.extras:
        parts += [Part(box((0.58, 0.1, 0.56), (x, 0.4, 0.1)), shade(c, 1.2)) for x in (-0.3, 0.3)]
    return parts


def bed(k: Detail, c: RGB) -> list[Part]:
    parts = [
        Part(box((1.0, 0.3, 2.0), (0, 0, 0)), WOOD if k.extras else c),
        Part(box((0.95, 0.18, 1.9), (0, 0.3, 0)), c),
    ]
    if k.extras:
        parts += [Part(box((1.0, 0.8, 0.08), (0, 0, -1.0)), WOOD), Part(box((0.6, 0.1, 0.3), (0, 0.48, -0.75)), WHITE)]
    return parts


def boat(k: Detail, c: RGB) -> list[Part]:
    hull = lathe(k, [(0.0, 0.0), (0.25, 0.0), (0.4, 0.3), (0.0, 0.3)], (0, 0, 0)).apply_scale((2.2, 1, 0.8))
    parts = [Part(hull, c), Part(rod(k, 0.025, (0, 0.3, 0), (0, 1.3, 0)), WOOD)]
    if k.extras:
        sail = trimesh.Trimesh([(0.03, 0.4, 0), (0.03, 1.25, 0), (0.6, 0.4, 0)], [(0, 1, 2), (0, 2, 1)], process=False)
        parts.append(Part(sail, WHITE))
    return parts


def apple(k: Detail, c: RGB) -> list[Part]:
    parts = [Part(sphere(k, 0.3, (0, 0.28, 0), scale=(1, 0.9, 1)), c)]
    if k.extras:
        parts += [
            Part(rod(k, 0.015, (0, 0.5, 0), (0.03, 0.62, 0)), WOOD),
            Part(sphere(k, 0.06, (0.09, 0.6, 0), scale=(1.5, 0.3, 0.8)), GREEN),
        ]
    return parts


def pumpkin(k: Detail, c: RGB) -> list[Part]:
    lobes = 8 if k.extras else 4
    parts = [
        Part(sphere(k, 0.22, (0.16 * np.cos(a), 0.25, 0.16 * np.sin(a)), scale=(1, 1.1, 1)), c)
        for a in np.linspace(0, 2 * np.pi, lobes, endpoint=False)
    ]
    return parts + [Part(rod(k, 0.04, (0, 0.45, 0), (0, 0.6, 0)), (90, 110, 40))]


def flower(k: Detail, c: RGB) -> list[Part]:
    parts = [
        Part(lathe(k, [(0.0, 0.0), (0.14, 0.0), (0.2, 0.3), (0.0, 0.3)], (0, 0, 0)), (190, 95, 60)),
        Part(rod(k, 0.02, (0, 0.3, 0), (0, 0.85, 0)), GREEN),
        Part(sphere(k, 0.07, (0, 0.9, 0)), YELLOW),
    ]
    parts += [
        Part(sphere(k, 0.09, (0.13 * np.cos(a), 0.9, 0.13 * np.sin(a)), scale=(1, 0.4, 1)), c)
        for a in np.linspace(0, 2 * np.pi, 6 if k.extras else 3, endpoint=False)
    ]
    return parts


def hill(k: Detail, c: RGB) -> list[Part]:
    return [Part(sphere(k, 0.8, (0, 0, 0), scale=(1.3, 0.5, 1.0)), c)]


def bridge(k: Detail, c: RGB) -> list[Part]:
    parts = [Part(box((2.0, 0.12, 0.5), (0, 0.5, 0)), c)] + [
        Part(box((0.2, 0.5, 0.45), (x, 0, 0)), c) for x in (-0.8, 0.8)
    ]
    if k.extras:
        parts += [Part(box((2.0, 0.15, 0.04), (0, 0.62, z)), shade(c, 0.8)) for z in (-0.23, 0.23)]
    return parts


def trophy(k: Detail, c: RGB) -> list[Part]:
    parts = [
        Part(
            lathe(
                k,
                [(0.0, 0.0), (0.2, 0.0), (0.2, 0.08), (0.05, 0.15), (0.05, 0.4), (0.25, 0.55), (0.28, 0.9), (0.0, 0.9)],
                (0, 0, 0),
            ),
            c,
        )
    ]
    if k.extras:
        parts += [Part(ring(k, 0.1, 0.02, (x, 0.72, 0), upright=True), c) for x in (-0.3, 0.3)]
    return parts


def gem(k: Detail, c: RGB) -> list[Part]:
    """The honest fallback for a prompt with no known object: a coloured sphere on a plinth."""
    return [Part(sphere(k, 0.35, (0, 0.55, 0)), c), Part(rod(k, 0.25, (0, 0, 0), (0, 0.2, 0)), (120, 120, 125))]


RECIPES: dict[str, tuple[Recipe, RGB]] = {
    "chair": (chair, WOOD),
    "table": (table, WOOD),
    "bench": (bench, WOOD),
    "snowman": (snowman, WHITE),
    "tree": (tree, GREEN),
    "pine": (pine, (40, 110, 60)),
    "house": (house, (225, 190, 140)),
    "car": (car, (200, 40, 40)),
    "lamp": (lamp, (235, 220, 180)),
    "mug": (mug, WHITE),
    "cup": (mug, WHITE),
    "rocket": (rocket, (200, 200, 210)),
    "tower": (tower, (150, 145, 135)),
    "castle": (tower, (150, 145, 135)),
    "robot": (robot, (170, 175, 185)),
    "mushroom": (mushroom, (200, 40, 40)),
    "bottle": (bottle, (60, 140, 80)),
    "ball": (ball, ORANGE),
    "sphere": (ball, (200, 200, 200)),
    "cube": (cube, (90, 120, 200)),
    "box": (cube, WOOD),
    "crate": (cube, WOOD),
    "pyramid": (pyramid, (220, 190, 110)),
    "cone": (traffic_cone, ORANGE),
    "donut": (donut, (240, 140, 180)),
    "doughnut": (donut, (240, 140, 180)),
    "torus": (donut, (200, 200, 200)),
    "ring": (donut, (225, 175, 40)),
    "pawn": (pawn, (240, 235, 220)),
    "hat": (hat, BLACK),
    "duck": (duck, YELLOW),
    "bear": (bear, (140, 95, 55)),
    "lighthouse": (lighthouse, (200, 40, 40)),
    "vase": (vase, (60, 90, 180)),
    "hydrant": (hydrant, (200, 40, 40)),
    "cactus": (cactus, (70, 150, 70)),
    "barrel": (barrel, WOOD),
    "candle": (candle, (245, 240, 225)),
    "sofa": (sofa, (70, 90, 160)),
    "couch": (sofa, (70, 90, 160)),
    "bed": (bed, WHITE),
    "boat": (boat, (150, 95, 55)),
    "apple": (apple, (200, 30, 30)),
    "pumpkin": (pumpkin, ORANGE),
    "flower": (flower, (235, 90, 130)),
    "hill": (hill, GREEN),
    "bridge": (bridge, (150, 145, 135)),
    "trophy": (trophy, (225, 175, 40)),
}
