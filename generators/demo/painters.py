"""2D drawings of the nouns the demo image models know, flat or shaded.

Each painter draws one object with Pillow at an anchor: the centre for things in
the sky, the middle of the base for things standing on the ground. `s` is the
object's size in pixels; `detail` adds outlines, highlights and small parts, which
is what separates the quality-3 model from the quality-2 one.
"""

from __future__ import annotations

import math
from collections.abc import Callable

from PIL import ImageDraw

from generators.demo.vocabulary import RGB, shade

Painter = Callable[[ImageDraw.ImageDraw, float, float, float, RGB, bool], None]

WHITE: RGB = (245, 245, 245)
DARK: RGB = (35, 35, 40)
BROWN: RGB = (110, 72, 40)
LEAF: RGB = (55, 140, 60)


def _disc(d: ImageDraw.ImageDraw, x: float, y: float, r: float, colour: RGB, detail: bool) -> None:
    """A circle; with detail, outlined and lit from the upper left."""
    outline = shade(colour, 0.55) if detail else None
    d.ellipse((x - r, y - r, x + r, y + r), fill=colour, outline=outline, width=max(1, int(r / 10)))
    if detail:
        h = r * 0.45
        d.ellipse(
            (x - r * 0.55 - h / 2, y - r * 0.55 - h / 2, x - r * 0.55 + h / 2, y - r * 0.55 + h / 2),
            fill=shade(colour, 1.45),
        )


def _box(d: ImageDraw.ImageDraw, box: tuple[float, float, float, float], colour: RGB, detail: bool) -> None:
    """A rectangle; with detail, outlined with a darker right side for volume."""
    d.rectangle(
        box, fill=colour, outline=shade(colour, 0.55) if detail else None, width=max(1, int((box[2] - box[0]) / 40))
    )
    if detail:
        x0, y0, x1, y1 = box
        d.rectangle((x1 - (x1 - x0) * 0.18, y0 + 2, x1 - 2, y1 - 2), fill=shade(colour, 0.8))


def sun(d, x, y, s, c, detail):
    r = s / 2
    if detail:
        for i in range(12):
            a = i * math.pi / 6
            d.line(
                (
                    x + math.cos(a) * r * 1.2,
                    y + math.sin(a) * r * 1.2,
                    x + math.cos(a) * r * 1.6,
                    y + math.sin(a) * r * 1.6,
                ),
                fill=c,
                width=max(2, int(s / 18)),
            )
        for k, f in ((1.0, 0.85), (0.8, 1.0), (0.55, 1.25)):
            d.ellipse((x - r * k, y - r * k, x + r * k, y + r * k), fill=shade(c, f))
    else:
        d.ellipse((x - r, y - r, x + r, y + r), fill=c)


def moon(d, x, y, s, c, detail):
    r = s / 2
    d.ellipse((x - r, y - r, x + r, y + r), fill=c)
    if detail:
        for dx, dy, k in ((-0.3, -0.2, 0.18), (0.25, 0.3, 0.12), (0.1, -0.45, 0.09)):
            cx, cy, cr = x + dx * r, y + dy * r, k * r
            d.ellipse((cx - cr, cy - cr, cx + cr, cy + cr), fill=shade(c, 0.85))


def star(d, x, y, s, c, detail):
    r = s / 2
    points = [
        (
            x + math.cos(-math.pi / 2 + i * math.pi / 5) * (r if i % 2 == 0 else r * 0.42),
            y + math.sin(-math.pi / 2 + i * math.pi / 5) * (r if i % 2 == 0 else r * 0.42),
        )
        for i in range(10)
    ]
    d.polygon(points, fill=c, outline=shade(c, 0.6) if detail else None)


def cloud(d, x, y, s, c, detail):
    for dx, dy, k in ((-0.35, 0.08, 0.3), (0.0, -0.1, 0.38), (0.35, 0.08, 0.3), (0.0, 0.12, 0.3)):
        if detail:
            r = k * s
            d.ellipse((x + dx * s - r, y + dy * s - r + 3, x + dx * s + r, y + dy * s + r + 3), fill=shade(c, 0.82))
    for dx, dy, k in ((-0.35, 0.08, 0.3), (0.0, -0.1, 0.38), (0.35, 0.08, 0.3), (0.0, 0.12, 0.3)):
        r = k * s
        d.ellipse((x + dx * s - r, y + dy * s - r, x + dx * s + r, y + dy * s + r), fill=c)


def bird(d, x, y, s, c, detail):
    w = max(2, int(s / 12))
    d.arc((x - s / 2, y - s / 4, x, y + s / 4), 200, 340, fill=c, width=w)
    d.arc((x, y - s / 4, x + s / 2, y + s / 4), 200, 340, fill=c, width=w)
    if detail:
        d.ellipse((x - s / 14, y - s / 14, x + s / 14, y + s / 14), fill=c)


def balloon(d, x, y, s, c, detail):
    d.line((x, y + s * 0.45, x + s * 0.05, y + s * 1.1), fill=DARK, width=max(1, int(s / 40)))
    d.ellipse(
        (x - s * 0.35, y - s * 0.45, x + s * 0.35, y + s * 0.45),
        fill=c,
        outline=shade(c, 0.55) if detail else None,
        width=max(1, int(s / 40)),
    )
    if detail:
        d.ellipse((x - s * 0.22, y - s * 0.32, x - s * 0.08, y - s * 0.1), fill=shade(c, 1.5))


def heart(d, x, y, s, c, detail):
    r = s * 0.27
    d.ellipse((x - 2 * r, y - r * 1.6, x, y + r * 0.4), fill=c)
    d.ellipse((x, y - r * 1.6, x + 2 * r, y + r * 0.4), fill=c)
    d.polygon([(x - 1.95 * r, y - r * 0.3), (x + 1.95 * r, y - r * 0.3), (x, y + s * 0.5)], fill=c)
    if detail:
        d.ellipse((x - 1.5 * r, y - r * 1.2, x - 0.9 * r, y - r * 0.6), fill=shade(c, 1.5))


def tree(d, x, y, s, c, detail):
    trunk = BROWN
    _box(d, (x - s * 0.07, y - s * 0.45, x + s * 0.07, y), trunk, detail)
    if detail:
        for dx, dy, k, f in (
            (-0.2, -0.55, 0.25, 0.8),
            (0.2, -0.55, 0.25, 0.8),
            (0.0, -0.72, 0.3, 1.0),
            (-0.08, -0.8, 0.14, 1.3),
        ):
            r = k * s
            d.ellipse((x + dx * s - r, y + dy * s - r, x + dx * s + r, y + dy * s + r), fill=shade(c, f))
    else:
        r = s * 0.32
        d.ellipse((x - r, y - s * 0.65 - r, x + r, y - s * 0.65 + r), fill=c)


def house(d, x, y, s, c, detail):
    w = s * 0.8
    _box(d, (x - w / 2, y - s * 0.55, x + w / 2, y), c, detail)
    roof = shade(c, 0.55) if detail else shade(c, 0.7)
    d.polygon([(x - w * 0.6, y - s * 0.55), (x + w * 0.6, y - s * 0.55), (x, y - s)], fill=roof)
    door = BROWN if c != BROWN else DARK
    d.rectangle((x - s * 0.08, y - s * 0.28, x + s * 0.08, y), fill=door)
    if detail:
        d.rectangle((x + w * 0.18, y - s * 0.98, x + w * 0.3, y - s * 0.75), fill=shade(roof, 0.8))
        for wx in (x - w * 0.33, x + w * 0.17):
            d.rectangle((wx, y - s * 0.44, wx + w * 0.16, y - s * 0.3), fill=(250, 230, 140), outline=WHITE, width=2)
        d.ellipse((x + s * 0.03, y - s * 0.15, x + s * 0.06, y - s * 0.12), fill=(230, 200, 60))


def cat(d, x, y, s, c, detail):
    out = shade(c, 0.55) if detail else None
    d.ellipse((x - s * 0.35, y - s * 0.45, x + s * 0.25, y), fill=c, outline=out)  # body
    d.line((x + s * 0.2, y - s * 0.1, x + s * 0.45, y - s * 0.45), fill=c, width=max(2, int(s / 12)))  # tail
    hx, hy, hr = x - s * 0.3, y - s * 0.55, s * 0.18
    d.polygon([(hx - hr, hy - hr * 0.3), (hx - hr * 0.7, hy - hr * 1.6), (hx - hr * 0.1, hy - hr * 0.8)], fill=c)
    d.polygon([(hx + hr, hy - hr * 0.3), (hx + hr * 0.7, hy - hr * 1.6), (hx + hr * 0.1, hy - hr * 0.8)], fill=c)
    d.ellipse((hx - hr, hy - hr, hx + hr, hy + hr), fill=c, outline=out)
    if detail:
        eye = (120, 200, 80) if sum(c) < 200 else DARK
        for ex in (hx - hr * 0.4, hx + hr * 0.4):
            d.ellipse((ex - hr * 0.15, hy - hr * 0.25, ex + hr * 0.15, hy + hr * 0.05), fill=eye)
        d.polygon(
            [(hx - hr * 0.1, hy + hr * 0.2), (hx + hr * 0.1, hy + hr * 0.2), (hx, hy + hr * 0.35)], fill=(230, 120, 140)
        )
        for k in (-1, 1):
            d.line((hx + k * hr * 0.2, hy + hr * 0.35, hx + k * hr * 1.3, hy + hr * 0.2), fill=shade(c, 1.6), width=1)


def dog(d, x, y, s, c, detail):
    out = shade(c, 0.55) if detail else None
    for lx in (x - s * 0.3, x - s * 0.12, x + s * 0.12, x + s * 0.28):
        d.rectangle((lx - s * 0.04, y - s * 0.25, lx + s * 0.04, y), fill=shade(c, 0.85) if detail else c)
    d.ellipse((x - s * 0.4, y - s * 0.5, x + s * 0.38, y - s * 0.18), fill=c, outline=out)
    hx, hy, hr = x - s * 0.4, y - s * 0.55, s * 0.17
    d.ellipse((hx - hr, hy - hr, hx + hr, hy + hr), fill=c, outline=out)
    d.ellipse((hx - hr * 1.9, hy - hr * 0.2, hx - hr * 0.9, hy + hr * 0.25), fill=c)  # snout
    d.ellipse((hx + hr * 0.1, hy - hr * 0.6, hx + hr * 0.7, hy + hr * 0.9), fill=shade(c, 0.7))  # ear
    d.line((x + s * 0.35, y - s * 0.4, x + s * 0.5, y - s * 0.6), fill=c, width=max(2, int(s / 14)))
    if detail:
        d.ellipse((hx - hr * 0.55, hy - hr * 0.45, hx - hr * 0.25, hy - hr * 0.15), fill=DARK)
        d.ellipse((hx - hr * 2.0, hy - hr * 0.1, hx - hr * 1.6, hy + hr * 0.2), fill=DARK)


def mountain(d, x, y, s, c, detail):
    w = s * 1.3
    d.polygon([(x - w / 2, y), (x + w / 2, y), (x, y - s)], fill=c)
    if detail:
        d.polygon([(x, y - s), (x + w / 2, y), (x + w * 0.1, y)], fill=shade(c, 0.75))
        k = 0.3
        d.polygon(
            [
                (x, y - s),
                (x - w / 2 * k, y - s * (1 - k)),
                (x - w * 0.05, y - s * 0.62),
                (x + w * 0.06, y - s * 0.66),
                (x + w / 2 * k, y - s * (1 - k)),
            ],
            fill=WHITE,
        )


def car(d, x, y, s, c, detail):
    w = s * 1.1
    out = shade(c, 0.55) if detail else None
    d.rounded_rectangle((x - w / 2, y - s * 0.42, x + w / 2, y - s * 0.14), radius=s * 0.06, fill=c, outline=out)
    d.polygon(
        [
            (x - w * 0.28, y - s * 0.42),
            (x - w * 0.16, y - s * 0.65),
            (x + w * 0.2, y - s * 0.65),
            (x + w * 0.32, y - s * 0.42),
        ],
        fill=c,
        outline=out,
    )
    if detail:
        glass = (180, 215, 235)
        d.polygon(
            [
                (x - w * 0.23, y - s * 0.44),
                (x - w * 0.14, y - s * 0.61),
                (x - w * 0.01, y - s * 0.61),
                (x - w * 0.01, y - s * 0.44),
            ],
            fill=glass,
        )
        d.polygon(
            [
                (x + w * 0.03, y - s * 0.44),
                (x + w * 0.03, y - s * 0.61),
                (x + w * 0.18, y - s * 0.61),
                (x + w * 0.27, y - s * 0.44),
            ],
            fill=glass,
        )
        d.rectangle((x + w * 0.44, y - s * 0.36, x + w * 0.5, y - s * 0.3), fill=(250, 230, 120))
    for wx in (x - w * 0.3, x + w * 0.3):
        r = s * 0.14
        d.ellipse((wx - r, y - 2 * r, wx + r, y), fill=DARK)
        if detail:
            d.ellipse((wx - r * 0.45, y - r * 1.45, wx + r * 0.45, y - r * 0.55), fill=(170, 170, 175))


def flower(d, x, y, s, c, detail):
    d.line((x, y, x, y - s * 0.6), fill=LEAF, width=max(2, int(s / 16)))
    if detail:
        d.ellipse((x, y - s * 0.35, x + s * 0.22, y - s * 0.25), fill=LEAF)
    cx, cy, r = x, y - s * 0.72, s * 0.13
    for i in range(6 if detail else 4):
        a = i * 2 * math.pi / (6 if detail else 4)
        px, py = cx + math.cos(a) * r * 1.3, cy + math.sin(a) * r * 1.3
        d.ellipse((px - r, py - r, px + r, py + r), fill=c, outline=shade(c, 0.7) if detail else None)
    d.ellipse(
        (cx - r * 0.8, cy - r * 0.8, cx + r * 0.8, cy + r * 0.8),
        fill=(245, 200, 50) if c[0] < 200 or c[1] < 150 else BROWN,
    )


def apple(d, x, y, s, c, detail):
    r = s * 0.3
    _disc(d, x, y - r, r, c, detail)
    d.line((x, y - 2 * r, x + r * 0.15, y - 2.5 * r), fill=BROWN, width=max(2, int(s / 25)))
    if detail:
        d.ellipse((x + r * 0.15, y - 2.5 * r, x + r * 0.8, y - 2.2 * r), fill=LEAF)


def ball(d, x, y, s, c, detail):
    _disc(d, x, y - s * 0.3, s * 0.3, c, detail)


def cactus(d, x, y, s, c, detail):
    w = s * 0.16
    d.rounded_rectangle((x - w / 2, y - s * 0.9, x + w / 2, y), radius=w / 2, fill=c)
    d.rounded_rectangle((x - w * 2, y - s * 0.6, x - w * 1.2, y - s * 0.3), radius=w / 3, fill=c)
    d.rectangle((x - w * 2, y - s * 0.38, x, y - s * 0.3), fill=c)
    d.rounded_rectangle((x + w * 1.2, y - s * 0.75, x + w * 2, y - s * 0.45), radius=w / 3, fill=c)
    d.rectangle((x, y - s * 0.53, x + w * 2, y - s * 0.45), fill=c)
    if detail:
        d.line((x, y - s * 0.85, x, y - s * 0.05), fill=shade(c, 0.7), width=max(1, int(w / 6)))


def lighthouse(d, x, y, s, c, detail):
    band = c if c != WHITE else (200, 40, 40)
    d.polygon(
        [(x - s * 0.14, y), (x + s * 0.14, y), (x + s * 0.09, y - s * 0.8), (x - s * 0.09, y - s * 0.8)], fill=WHITE
    )
    for k in (0.15, 0.45):
        d.polygon(
            [
                (x - s * (0.14 - k * 0.06), y - s * k),
                (x + s * (0.14 - k * 0.06), y - s * k),
                (x + s * (0.14 - (k + 0.15) * 0.06), y - s * (k + 0.15)),
                (x - s * (0.14 - (k + 0.15) * 0.06), y - s * (k + 0.15)),
            ],
            fill=band,
        )
    d.rectangle((x - s * 0.08, y - s * 0.92, x + s * 0.08, y - s * 0.8), fill=(250, 230, 120))
    d.polygon([(x - s * 0.1, y - s * 0.92), (x + s * 0.1, y - s * 0.92), (x, y - s)], fill=band)
    if detail:
        d.polygon(
            [(x + s * 0.08, y - s * 0.86), (x + s * 0.6, y - s * 0.95), (x + s * 0.6, y - s * 0.77)],
            fill=(250, 240, 170),
        )


def boat(d, x, y, s, c, detail):
    d.polygon(
        [(x - s * 0.5, y - s * 0.25), (x + s * 0.5, y - s * 0.25), (x + s * 0.35, y), (x - s * 0.35, y)],
        fill=c,
        outline=shade(c, 0.55) if detail else None,
    )
    d.line((x, y - s * 0.25, x, y - s), fill=BROWN, width=max(2, int(s / 30)))
    sail = WHITE if c != WHITE else (220, 60, 50)
    d.polygon([(x + s * 0.03, y - s * 0.95), (x + s * 0.03, y - s * 0.32), (x + s * 0.42, y - s * 0.32)], fill=sail)
    if detail:
        d.polygon(
            [(x - s * 0.03, y - s * 0.85), (x - s * 0.03, y - s * 0.32), (x - s * 0.3, y - s * 0.32)],
            fill=shade(sail, 0.88),
        )


def fish(d, x, y, s, c, detail):
    d.polygon([(x + s * 0.25, y), (x + s * 0.5, y - s * 0.18), (x + s * 0.5, y + s * 0.18)], fill=shade(c, 0.8))
    d.ellipse(
        (x - s * 0.4, y - s * 0.18, x + s * 0.32, y + s * 0.18), fill=c, outline=shade(c, 0.55) if detail else None
    )
    if detail:
        d.ellipse((x - s * 0.28, y - s * 0.07, x - s * 0.2, y + s * 0.01), fill=DARK)
        d.arc((x - s * 0.1, y - s * 0.15, x + s * 0.1, y + s * 0.15), 300, 60, fill=shade(c, 0.6), width=2)


SKY: dict[str, tuple[Painter, RGB]] = {
    "sun": (sun, (250, 205, 50)),
    "moon": (moon, (235, 235, 210)),
    "star": (star, (250, 225, 90)),
    "cloud": (cloud, WHITE),
    "bird": (bird, DARK),
    "balloon": (balloon, (220, 50, 50)),
    "heart": (heart, (225, 60, 90)),
}
BACKDROP: dict[str, tuple[Painter, RGB]] = {"mountain": (mountain, (105, 110, 130))}
WATER: dict[str, tuple[Painter, RGB]] = {"boat": (boat, (150, 95, 55)), "fish": (fish, (240, 130, 40))}
GROUND: dict[str, tuple[Painter, RGB]] = {
    "tree": (tree, LEAF),
    "house": (house, (225, 190, 140)),
    "cat": (cat, (130, 130, 135)),
    "dog": (dog, (150, 100, 60)),
    "car": (car, (200, 40, 40)),
    "flower": (flower, (235, 90, 130)),
    "apple": (apple, (200, 30, 30)),
    "ball": (ball, (240, 130, 30)),
    "cactus": (cactus, (70, 150, 70)),
    "lighthouse": (lighthouse, (200, 40, 40)),
}
PAINTERS: dict[str, tuple[Painter, RGB]] = {**SKY, **BACKDROP, **WATER, **GROUND}
