"""A broadcast-like test clip rendered from code: no external files.

Layers: a slowly shifting gradient sky, a panning fractal-noise "terrain" texture with fine stripes,
a rotating logo, a lower third with a name and title, a scrolling ticker, a running clock and a
"LIVE" badge: the text, edges and textures that compression and upscaling damage first.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from functools import cached_property

import numpy as np
from PIL import Image, ImageDraw, ImageFont

TICKER = (
    "STREAMENHANCE DEMO  +++  artifact removal and super-resolution for live video  +++  "
    "BGR in, BGR out, 60 fps targets  +++  scores 3 : 2 after extra time  +++  "
)


@dataclass(frozen=True)
class Scene:
    width: int = 1280
    height: int = 720
    fps: int = 30
    seed: int = 7

    def font(self, size: int) -> ImageFont.FreeTypeFont:
        return ImageFont.load_default(size=size)

    @cached_property
    def terrain(self) -> np.ndarray:
        """Fractal value noise (float32, 2x the frame width so it can pan) with a stripe pattern."""
        rng = np.random.default_rng(self.seed)
        h, w = self.height, self.width * 2
        field = np.zeros((h, w), np.float32)
        for octave in range(6):
            cells = 4 * 2**octave
            grid = rng.random((cells + 1, 2 * cells + 1)).astype(np.float32)
            image = Image.fromarray(grid).resize((w, h), Image.Resampling.BICUBIC)
            field += np.asarray(image) / 1.7**octave
        field = (field - field.min()) / (field.max() - field.min())
        ys, xs = np.mgrid[0:h, 0:w].astype(np.float32)
        stripes = 0.5 + 0.5 * np.sin(xs * 0.9 + ys * 0.35)
        return np.clip(0.75 * field + 0.25 * stripes * (field > 0.55), 0.0, 1.0)

    def _background(self, t: float) -> np.ndarray:
        h, w = self.height, self.width
        ys = np.linspace(0.0, 1.0, h, dtype=np.float32)[:, None]
        xs = np.linspace(0.0, 1.0, w, dtype=np.float32)[None, :]
        hue = 0.5 + 0.5 * math.sin(t * 0.7)
        channels = [0.55 + 0.35 * ys + 0.1 * hue * xs, 0.35 + 0.25 * ys, 0.25 + 0.2 * (1 - ys) + 0.2 * hue]
        sky = np.stack([np.broadcast_to(c, (h, w)) for c in channels], axis=2)
        offset = int(t * 60) % self.width
        terrain = self.terrain[:, offset : offset + w]
        ground = np.stack([0.20 + 0.35 * terrain, 0.35 + 0.45 * terrain, 0.15 + 0.25 * terrain], axis=2)
        horizon = (ys > 0.55).astype(np.float32)[..., None]
        rgb = sky * (1 - horizon) + ground * horizon
        return (np.clip(rgb, 0, 1) * 255 + 0.5).astype(np.uint8)

    def frame(self, index: int) -> np.ndarray:
        """Frame ``index`` as BGR uint8 (height, width, 3)."""
        t = index / self.fps
        image = Image.fromarray(self._background(t))
        draw = ImageDraw.Draw(image)
        self._skyline(draw, t)
        self._logo(draw, t)
        self._lower_third(draw, t)
        self._ticker(draw, t)
        self._badges(draw, index)
        return np.ascontiguousarray(np.asarray(image)[:, :, ::-1])

    @cached_property
    def buildings(self) -> list[tuple[int, int, int, tuple[int, int, int], np.ndarray]]:
        """(x, width, height, colour, lit windows) of skyline buildings over twice the frame width.

        The lit-window pattern belongs to the building, so it does not change from frame to frame.
        """
        rng = np.random.default_rng(self.seed + 1)
        out, x = [], 0
        while x < 2 * self.width:
            width = int(rng.integers(50, 130))
            shade = int(rng.integers(40, 90))
            height = int(rng.integers(90, 260))
            lit = rng.random((height // 14, width // 10)) < 0.45
            out.append((x, width, height, (shade, shade, shade + 20), lit))
            x += width + int(rng.integers(4, 30))
        return out

    def _skyline(self, draw: ImageDraw.ImageDraw, t: float) -> None:
        """Buildings with a grid of small lit windows, drifting slower than the ground (parallax)."""
        horizon = int(0.55 * self.height)
        shift = int(t * 25) % self.width
        for x, width, height, colour, lit in self.buildings:
            left = x - shift
            if left > self.width or left + width < 0:
                continue
            draw.rectangle((left, horizon - height, left + width, horizon), fill=colour)
            for row, col in zip(*np.nonzero(lit), strict=True):
                wx, wy = left + 4 + 10 * col, horizon - height + 6 + 14 * row
                draw.rectangle((wx, wy, wx + 4, wy + 6), fill=(250, 225, 140))

    def _logo(self, draw: ImageDraw.ImageDraw, t: float) -> None:
        cx, cy, r = self.width - 140, 110, 70
        draw.ellipse((cx - r, cy - r, cx + r, cy + r), fill=(240, 240, 245), outline=(20, 60, 160), width=6)
        for k in range(6):
            angle = t * 1.5 + k * math.pi / 3
            x, y = cx + 0.7 * r * math.cos(angle), cy + 0.7 * r * math.sin(angle)
            draw.line((cx, cy, x, y), fill=(200, 30, 40), width=4)
        draw.text((cx, cy + r + 22), "SE-TV", font=self.font(30), fill=(255, 255, 255), anchor="mm", stroke_width=2, stroke_fill=(0, 0, 0))

    def _lower_third(self, draw: ImageDraw.ImageDraw, t: float) -> None:
        slide = min(1.0, t / 0.8)
        x0 = int(-700 + 760 * (1 - (1 - slide) ** 3))
        y0 = self.height - 230
        draw.rectangle((x0, y0, x0 + 700, y0 + 70), fill=(20, 60, 160))
        draw.rectangle((x0, y0 + 70, x0 + 560, y0 + 110), fill=(235, 235, 235))
        draw.text((x0 + 24, y0 + 12), "Dr. Ada Lovelace", font=self.font(44), fill=(255, 255, 255))
        draw.text((x0 + 24, y0 + 76), "Analytical Engine Project, London", font=self.font(26), fill=(30, 30, 30))

    def _ticker(self, draw: ImageDraw.ImageDraw, t: float) -> None:
        y0 = self.height - 64
        draw.rectangle((0, y0, self.width, self.height), fill=(15, 15, 20))
        font = self.font(32)
        text_width = draw.textlength(TICKER, font=font)
        x = -((t * 180) % text_width)
        while x < self.width:
            draw.text((x, y0 + 14), TICKER, font=font, fill=(255, 210, 40))
            x += text_width

    def _badges(self, draw: ImageDraw.ImageDraw, index: int) -> None:
        draw.rounded_rectangle((40, 36, 170, 92), radius=10, fill=(210, 20, 30))
        draw.text((105, 64), "LIVE", font=self.font(36), fill=(255, 255, 255), anchor="mm")
        seconds = index / self.fps
        clock = f"{int(seconds // 60):02d}:{seconds % 60:05.2f}"
        draw.text((200, 40), clock, font=self.font(40), fill=(255, 255, 255), stroke_width=2, stroke_fill=(0, 0, 0))
