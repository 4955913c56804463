"""Small coloured shapes drawn with Pillow, zipped as a class-folder dataset (no binary files)."""

from __future__ import annotations

import io
import zipfile

import numpy as np
from PIL import Image, ImageDraw

SHAPE_CLASSES = ("circles", "squares", "triangles")
COLOURS = {"circles": (220, 30, 30), "squares": (30, 180, 40), "triangles": (40, 60, 230)}


def shape_image(kind: str, seed: int, size: int = 40) -> Image.Image:
    """One `kind` shape (red circle, green square or blue triangle) at a random place and size."""
    generator = np.random.default_rng(seed)
    image = Image.new("RGB", (size, size), tuple(int(v) for v in generator.integers(215, 256, 3)))
    draw = ImageDraw.Draw(image)
    side = int(generator.integers(size // 2, size - 5))
    left, top = (int(v) for v in generator.integers(1, size - side - 1, 2))
    box = (left, top, left + side, top + side)
    colour = tuple(int(np.clip(c + generator.integers(-20, 21), 0, 255)) for c in COLOURS[kind])
    if kind == "circles":
        draw.ellipse(box, fill=colour)
    elif kind == "squares":
        draw.rectangle(box, fill=colour)
    else:
        draw.polygon([(left + side / 2, top), (left, top + side), (left + side, top + side)],
                     fill=colour)
    return image


def png_bytes(image: Image.Image) -> bytes:
    buffer = io.BytesIO()
    image.save(buffer, "PNG")
    return buffer.getvalue()


def shapes_zip(per_class: int = 24, size: int = 40, top_folder: str = "", extra=None) -> bytes:
    """A zip of `<top_folder>/<class>/<n>.png` (3 classes); `extra` maps more names to bytes."""
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED) as archive:
        for label, kind in enumerate(SHAPE_CLASSES):
            for index in range(per_class):
                picture = png_bytes(shape_image(kind, seed=1000 * label + index, size=size))
                archive.writestr(f"{top_folder}{kind}/{index:03d}.png", picture)
        for name, content in (extra or {}).items():
            archive.writestr(name, content)
    return buffer.getvalue()
