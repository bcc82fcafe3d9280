"""Demo image models: procedural PNG scenes drawn from the prompt's nouns and colours.

Quality 1 paints blurred blobs in the prompt's colours; quality 2 draws the
recognised nouns as flat shapes on a flat sky and ground; quality 3 adds gradient
light, outlines, highlights, shadows and anti-aliasing, so a voter can tell them
apart at a glance and the best one is checkably "aligned" with the prompt. No level
writes text into its picture (neither the prompt nor a name): in an arena a caption
would tell the models apart by something other than the picture's quality.
"""

from __future__ import annotations

import asyncio
import io
import random
from dataclasses import dataclass

import numpy as np
from PIL import Image, ImageDraw, ImageFilter

from generators.demo.base import DemoGenerator, request_rng
from generators.demo.painters import BACKDROP, GROUND, PAINTERS, SKY, WATER
from generators.demo.vocabulary import RGB, Mention, mentions, shade, words
from generators.protocol import GenerationRequest, ImageOutput

SIZES = {1: 256, 2: 384, 3: 512}
SUPERSAMPLE = 2  # quality 3 draws at twice the size and downsamples: cheap anti-aliasing
HORIZON = 0.6
MAX_COPIES = 5

_SKIES = {  # (top, horizon)
    "day": ((80, 140, 225), (185, 215, 245)),
    "night": ((8, 12, 40), (40, 50, 95)),
    "sunset": ((70, 60, 140), (250, 150, 80)),
}
_GROUNDS = {
    "grass": (95, 170, 80),
    "snow": (235, 240, 245),
    "sand": (225, 195, 130),
    "road": (120, 120, 125),
}
_WATER: RGB = (40, 110, 180)


@dataclass(frozen=True)
class Scene:
    """What to draw, read from the prompt once and shared by all quality levels."""

    things: list[Mention]
    loose: list[RGB]
    sky: str
    sky_tint: RGB | None
    ground: RGB
    water: bool


class DemoImageGenerator(DemoGenerator):
    async def _generate(self, request: GenerationRequest) -> ImageOutput:
        self.check_fail()
        png, size = await asyncio.to_thread(render, request.prompt, self.quality, request_rng(request))
        return ImageOutput(png=png, width=size, height=size)


def read_scene(prompt: str) -> Scene:
    vocabulary = set(words(prompt))
    things, loose = mentions(prompt, PAINTERS)
    if "forest" in vocabulary and not any(t.noun == "tree" for t in things):
        things.append(Mention("tree", None, 4))
    sky = (
        "night"
        if vocabulary & {"night", "midnight", "starry"}
        else ("sunset" if vocabulary & {"sunset", "setting", "dusk", "sunrise", "dawn"} else "day")
    )
    ground = _GROUNDS["grass"]
    if vocabulary & {"snow", "snowy", "winter", "ice"}:
        ground = _GROUNDS["snow"]
    elif vocabulary & {"desert", "sand", "beach", "dune"}:
        ground = _GROUNDS["sand"]
    elif vocabulary & {"city", "road", "street", "town"}:
        ground = _GROUNDS["road"]
    water = bool(vocabulary & {"sea", "ocean", "lake", "river", "water", "pond", "harbour", "beach"}) or any(
        t.noun in WATER for t in things
    )
    sky_tint = loose[0] if loose and "sky" in vocabulary else None
    return Scene(things, loose, sky, sky_tint, ground, water)


def render(prompt: str, quality: int, rng: random.Random) -> tuple[bytes, int]:
    """PNG bytes and the side length of the square image."""
    size = SIZES[quality]
    scene = read_scene(prompt)
    if quality == 1:
        image = _blobs(scene, size, rng)
    else:
        scale = SUPERSAMPLE if quality == 3 else 1
        image = _picture(scene, size * scale, rng, detail=quality == 3)
        if scale > 1:
            image = image.resize((size, size), Image.Resampling.BOX)
    buffer = io.BytesIO()
    image.save(buffer, format="PNG", compress_level=3)
    return buffer.getvalue(), size


def _colour(thing: Mention) -> RGB:
    return thing.colour or PAINTERS[thing.noun][1]


def _blobs(scene: Scene, size: int, rng: random.Random) -> Image.Image:
    """Soft blobs of the prompt's colours on a flat background: the crude model."""
    small = 32
    background = scene.sky_tint or _SKIES[scene.sky][1]
    image = Image.new("RGB", (small, small), background)
    draw = ImageDraw.Draw(image)
    colours = [_colour(thing) for thing in scene.things for _ in range(min(thing.count, MAX_COPIES))] + scene.loose
    for colour in colours or [(rng.randrange(256), rng.randrange(256), rng.randrange(256))]:
        x, y, r = rng.uniform(4, small - 4), rng.uniform(4, small - 4), rng.uniform(3, 9)
        draw.ellipse((x - r, y - r * rng.uniform(0.6, 1.4), x + r, y + r), fill=colour)
    return image.filter(ImageFilter.GaussianBlur(1.2)).resize((size, size), Image.Resampling.BILINEAR)


def _gradient(size: int, stops: list[tuple[float, RGB]]) -> Image.Image:
    """A vertical gradient through (position 0..1, colour) stops."""
    rows = np.linspace(0.0, 1.0, size)
    positions = [p for p, _ in stops]
    column = np.stack([np.interp(rows, positions, [c[k] for _, c in stops]) for k in range(3)], axis=1)
    return Image.fromarray(np.broadcast_to(column[:, None, :], (size, size, 3)).astype(np.uint8))


def _picture(scene: Scene, size: int, rng: random.Random, detail: bool) -> Image.Image:
    """The recognisable scene; `detail` switches on light, shading and small parts."""
    top, low = _SKIES[scene.sky]
    if scene.sky_tint:
        top, low = shade(scene.sky_tint, 0.75), shade(scene.sky_tint, 1.3)
    horizon = HORIZON * size
    land_top = 0.8 if scene.water and any(t.noun in GROUND for t in scene.things) else (1.0 if scene.water else HORIZON)
    ground = scene.ground if scene.sky != "night" else shade(scene.ground, 0.55)
    water = _WATER if scene.sky != "night" else shade(_WATER, 0.5)
    if detail:
        stops = [(0.0, top), (HORIZON, low)]
        if scene.water:
            stops += [(HORIZON + 0.001, shade(water, 1.25)), (land_top, shade(water, 0.8))]
        if land_top < 1.0:
            stops += [(land_top + 0.001, shade(ground, 1.1)), (1.0, shade(ground, 0.8))]
        image = _gradient(size, stops)
    else:
        image = Image.new("RGB", (size, size), low)
        ImageDraw.Draw(image).rectangle((0, horizon, size, size), fill=water if scene.water else ground)
        if scene.water and land_top < 1.0:
            ImageDraw.Draw(image).rectangle((0, land_top * size, size, size), fill=ground)
    draw = ImageDraw.Draw(image)
    jitter = 0.03 if detail else 0.12
    if detail and scene.sky == "night":
        for _ in range(40):
            x, y = rng.uniform(0, size), rng.uniform(0, horizon * 0.9)
            draw.ellipse((x, y, x + 2, y + 2), fill=(230, 230, 200))

    def row(nouns: dict, y_of, size_of) -> None:
        things = [t for t in scene.things if t.noun in nouns for _ in range(min(t.count, MAX_COPIES))]
        for index, thing in enumerate(things):
            x = size * ((index + 0.5) / len(things) + rng.uniform(-jitter, jitter))
            s = size_of(len(things)) * (rng.uniform(0.85, 1.1) if detail else 1.0)
            y = y_of(index)
            if detail and nouns is GROUND:
                draw.ellipse((x - s * 0.4, y - s * 0.05, x + s * 0.4, y + s * 0.05), fill=shade(ground, 0.65))
            nouns[thing.noun][0](draw, x, y, s, _colour(thing), detail)

    row(BACKDROP, lambda i: horizon + 2, lambda n: size * 0.42)
    row(SKY, lambda i: size * (0.16 + 0.1 * (i % 2)), lambda n: size * min(0.16, 0.5 / n))
    row(
        WATER,
        lambda i: size * (HORIZON + 0.08 + (0.08 * (i % 2) if land_top == 1.0 else 0)),
        lambda n: size * min(0.18, 0.6 / n),
    )
    base = size * (0.95 if land_top > HORIZON else 0.85)
    row(GROUND, lambda i: base - (i % 2) * size * 0.03, lambda n: size * min(0.34, 0.9 / n))
    if not scene.things:  # nothing we can draw: a ball in the prompt's colour, honestly abstract
        fallback = (
            scene.loose[0] if scene.loose else (rng.randrange(60, 230), rng.randrange(60, 230), rng.randrange(60, 230))
        )
        GROUND["ball"][0](draw, size / 2, size * 0.85, size * 0.3, fallback, detail)
    return image
