"""A corpus of hostile and awkward uploads, generated at test time (no binary files committed).

`hostile_cases()` returns the batch in upload order (one file appears twice, as users do);
`write_corpus(folder)` also writes each distinct file into `folder` for the command line.
Each case says what must happen: an "answer" (a prediction), or an "error" whose message
contains `fragment`.
"""

from __future__ import annotations

import io
import struct
import zipfile
import zlib
from dataclasses import dataclass
from pathlib import Path

import numpy as np
from PIL import Image, ImageDraw

LONG_NAME = "digit_" + "x" * 190 + ".png"  # 200 characters: well below Linux's 255-byte limit
NON_ASCII_NAME = "数字_七_ß.png"
HTML_NAME = "<img src=x onerror=alert(1)>.png"
DUPLICATE_NAME = "seven.png"  # uploaded twice in the same batch

# Message fragments of lepton.imaging's errors, so a test fails if a message loses its advice.
EMPTY = "The file is empty (0 bytes)"
NOT_A_PICTURE = "not a picture Pillow can read"
DAMAGED = "truncated or damaged"
TOO_LARGE = "far too large to open safely"
ABOVE_LIMIT = "more than the 25,000,000 allowed"
NO_INK = "No ink found"


@dataclass(frozen=True)
class Case:
    """One upload and what must come of it."""

    name: str
    data: bytes
    expect: str  # "answer" or "error"
    fragment: str = ""  # for "error": a piece of the message the user must see
    what: str = ""  # one line for RELIABILITY.md

    @property
    def mime(self) -> str:
        suffix = self.name.rsplit(".", 1)[-1].lower()
        return {"jpg": "image/jpeg", "jpeg": "image/jpeg", "gif": "image/gif",
                "bmp": "image/bmp", "webp": "image/webp"}.get(suffix, "image/png")


# --- Pictures --------------------------------------------------------------------------------


def seven(size=(200, 200), *, ink=0, paper=255, mode="L", width=14) -> Image.Image:
    """A '7' drawn with lines in the middle of `size`."""
    picture = Image.new(mode, size, paper)
    w, h = size
    left, right = w // 2 - min(w, h) // 4, w // 2 + min(w, h) // 4
    top, bottom = h // 2 - int(min(w, h) * 0.3), h // 2 + int(min(w, h) * 0.3)
    corner = (left + (right - left) // 3, bottom)
    ImageDraw.Draw(picture).line([(left, top), (right, top), corner], fill=ink, width=width)
    return picture


def encode(picture: Image.Image, fmt: str, **options) -> bytes:
    buffer = io.BytesIO()
    picture.save(buffer, fmt, **options)
    return buffer.getvalue()


def _png_chunk(kind: bytes, payload: bytes) -> bytes:
    return (struct.pack(">I", len(payload)) + kind + payload
            + struct.pack(">I", zlib.crc32(kind + payload)))


def png_bomb(width: int, height: int, real_data: bool) -> bytes:
    """A grayscale PNG declaring `width`×`height`.

    With `real_data`, the IDAT really holds every row (zeros compress ~1000:1, so a 64-megapixel
    picture is ~64 KB); without, the header alone claims the size.
    """
    header = struct.pack(">IIBBBBB", width, height, 8, 0, 0, 0, 0)
    if real_data:
        compressor = zlib.compressobj(9)
        row = bytes(width + 1)  # filter byte + pixels
        block = row * max(1, (4 << 20) // len(row))
        rows_per_block = len(block) // len(row)
        parts, remaining = [], height
        while remaining > 0:
            count = min(rows_per_block, remaining)
            parts.append(compressor.compress(block[: count * len(row)]))
            remaining -= count
        parts.append(compressor.flush())
        payload = b"".join(parts)
    else:
        payload = zlib.compress(bytes(2))
    return (b"\x89PNG\r\n\x1a\n" + _png_chunk(b"IHDR", header) + _png_chunk(b"IDAT", payload)
            + _png_chunk(b"IEND", b""))


def jpeg_declaring(width: int, height: int) -> bytes:
    """A small real JPEG whose frame header (SOF0) is patched to claim `width`×`height`."""
    data = bytearray(encode(seven((64, 64)), "JPEG"))
    sof = data.index(b"\xff\xc0")
    data[sof + 5:sof + 9] = struct.pack(">HH", height, width)
    return bytes(data)


def gif_declaring(width: int, height: int) -> bytes:
    """A small real GIF whose logical screen is patched to claim `width`×`height`."""
    data = bytearray(encode(seven((64, 64)), "GIF"))
    data[6:10] = struct.pack("<HH", width, height)
    return bytes(data)


def png_with_width(width: int) -> bytes:
    """A 1×1 PNG whose header is patched (with a valid CRC) to claim `width`×1."""
    data = bytearray(encode(Image.new("L", (1, 1), 0), "PNG"))
    data[16:20] = struct.pack(">I", width)
    data[29:33] = struct.pack(">I", zlib.crc32(bytes(data[12:29])))
    return bytes(data)


def corrupt_idat(data: bytes) -> bytes:
    """Flips bytes inside the first IDAT chunk's data (its CRC no longer matches)."""
    data = bytearray(data)
    start = data.index(b"IDAT") + 4
    for offset in range(8, 40):
        data[start + offset] ^= 0xFF
    return bytes(data)


def animated_gif() -> bytes:
    first = seven((120, 120), mode="L")
    frames = [first, Image.new("L", (120, 120), 255), Image.new("L", (120, 120), 0)]
    return encode(frames[0], "GIF", save_all=True, append_images=frames[1:], duration=100,
                  loop=0)


def exif_rotated_jpeg() -> bytes:
    """The seven stored lying on its side, with EXIF orientation 6 (rotate 90° clockwise)."""
    upright = seven((160, 240), mode="RGB", ink=(0, 0, 0), paper=(255, 255, 255))
    stored = upright.transpose(Image.Transpose.ROTATE_90)  # what a phone sensor writes
    exif = Image.Exif()
    exif[0x0112] = 6
    return encode(stored, "JPEG", exif=exif, quality=92)


def sixteen_bit_png() -> bytes:
    levels = np.asarray(seven((150, 150)), np.uint16) * 257  # 0 or 65535, and grey edges
    return encode(Image.fromarray(levels.astype(np.uint16)), "PNG")


def palette_with_transparency() -> bytes:
    picture = Image.new("P", (140, 140), 0)
    picture.putpalette([0, 0, 0, 20, 20, 200] + [0, 0, 0] * 254)
    ImageDraw.Draw(picture).line([(40, 30), (100, 30), (60, 115)], fill=1, width=12)
    return encode(picture, "PNG", transparency=0)  # background index 0 is see-through


def canvas_rgba() -> bytes:
    picture = Image.new("RGBA", (280, 280), (0, 0, 0, 0))
    ImageDraw.Draw(picture).line([(75, 55), (205, 55), (125, 235)], fill=(255, 255, 255, 255),
                                 width=20)
    return encode(picture, "PNG")


def saturated_colours() -> bytes:
    """Pure red ink on pure blue: every channel is at 0 or 255."""
    return encode(seven((160, 160), mode="RGB", ink=(255, 0, 0), paper=(0, 0, 255)), "PNG")


def float_extremes_tiff() -> bytes:
    """A 32-bit float picture using nearly the whole float32 range (no NaN, no infinity)."""
    levels = np.asarray(seven((120, 120)), np.float32)
    values = np.where(levels > 128, -3.0e38, 3.0e38).astype(np.float32)
    return encode(Image.fromarray(values, mode="F"), "TIFF")


def photo_jpeg() -> bytes:
    """A phone-photo-like JPEG of a dark seven on uneven paper."""
    width, height = 480, 360
    rows, columns = np.mgrid[0:height, 0:width].astype(np.float32)
    paper = 235.0 - 14.0 * (0.6 * columns / width + 0.4 * rows / height)
    noise = np.random.default_rng(0).normal(0.0, 2.5, (height, width))
    ink = np.asarray(seven((width, height), width=16), np.float32) / 255.0
    photo = paper * ink + 35.0 * (1.0 - ink) + noise
    return encode(Image.fromarray(np.clip(photo, 0, 255).astype(np.uint8)), "JPEG", quality=85)


def svg() -> bytes:
    return (b'<?xml version="1.0"?><svg xmlns="http://www.w3.org/2000/svg" width="28" '
            b'height="28"><text x="4" y="24" font-size="24">7</text>'
            b'<script>alert(1)</script></svg>')


def pdf() -> bytes:
    return (b"%PDF-1.4\n1 0 obj << /Type /Catalog /Pages 2 0 R >> endobj\n"
            b"2 0 obj << /Type /Pages /Kids [] /Count 0 >> endobj\n"
            b"trailer << /Root 1 0 R >>\n%%EOF\n")


def zip_archive() -> bytes:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as archive:
        archive.writestr("config.json", '{"class_name": "Lambda"}')
    return buffer.getvalue()


# --- The corpus ------------------------------------------------------------------------------


def hostile_cases() -> list[Case]:
    """Every case in upload order; `DUPLICATE_NAME` appears twice."""
    rng = np.random.default_rng(20240611)
    png7 = encode(seven(), "PNG")
    jpeg7 = encode(seven(mode="RGB", ink=(0, 0, 0), paper=(255, 255, 255)), "JPEG")
    strip = Image.new("L", (10_000, 40), 255)
    ImageDraw.Draw(strip).line([(4985, 4), (5010, 4), (4992, 36)], fill=0, width=4)
    large = seven((3000, 2000), width=120)
    cases = [
        Case(DUPLICATE_NAME, png7, "answer", what="a plain 200×200 PNG of a seven"),
        Case("empty.png", b"", "error", EMPTY, "zero-byte file"),
        Case("truncated.png", png7[: len(png7) // 2], "error", DAMAGED, "PNG cut in half"),
        Case("truncated.jpg", jpeg7[: len(jpeg7) // 2], "error", DAMAGED, "JPEG cut in half"),
        Case("truncated.gif", animated_gif()[:300], "error", DAMAGED, "GIF cut after 300 bytes"),
        Case("random_bytes.png", rng.integers(0, 256, 4096, dtype=np.uint8).tobytes(), "error",
             NOT_A_PICTURE, "4 KiB of random bytes named .png"),
        Case("drawing_svg.png", svg(), "error", NOT_A_PICTURE,
             "SVG (with a <script>) renamed .png"),
        Case("document_pdf.png", pdf(), "error", NOT_A_PICTURE, "PDF renamed .png"),
        Case("archive_zip.png", zip_archive(), "error", NOT_A_PICTURE, "ZIP archive renamed .png"),
        Case("page_html.png", b"<html><script>alert(1)</script></html>", "error", NOT_A_PICTURE,
             "HTML page renamed .png"),
        Case("signature_only.png", b"\x89PNG\r\n\x1a\n", "error", NOT_A_PICTURE,
             "PNG signature and nothing else"),
        Case("bad_crc.png", corrupt_idat(png7), "error", DAMAGED,
             "PNG with damaged compressed data (CRC mismatch)"),
        Case("zero_width.png", png_with_width(0), "error", NOT_A_PICTURE,
             "PNG header declaring 0×1 pixels"),
        Case("bomb_header.png", png_bomb(100_000, 100_000, real_data=False), "error", TOO_LARGE,
             "decompression bomb: PNG header declaring 100000×100000"),
        Case("bomb_zlib.png", png_bomb(8_000, 8_000, real_data=True), "error", ABOVE_LIMIT,
             "decompression bomb: real 64-megapixel PNG of zeros, ~64 KB compressed"),
        Case("bomb.jpg", jpeg_declaring(65_000, 65_000), "error", TOO_LARGE,
             "decompression bomb: JPEG frame header declaring 65000×65000"),
        Case("bomb.gif", gif_declaring(65_535, 65_535), "error", TOO_LARGE,
             "decompression bomb: GIF screen declaring 65535×65535"),
        Case("one_pixel.png", encode(Image.new("L", (1, 1), 0), "PNG"), "error", NO_INK,
             "1×1 picture"),
        Case("strip_10000x40.png", encode(strip, "PNG"), "answer",
             what="10000×40 strip with a small seven in the middle"),
        Case("large_3000x2000.png", encode(large, "PNG"), "answer",
             what="3000×2000 (6 megapixels) seven"),
        Case("sixteen_bit.png", sixteen_bit_png(), "answer", what="16-bit grayscale PNG (I;16)"),
        Case("cmyk.jpg", encode(seven(mode="CMYK", ink=(0, 0, 0, 255), paper=(0, 0, 0, 0)),
                                "JPEG"), "answer", what="CMYK JPEG"),
        Case("palette_transparent.png", palette_with_transparency(), "answer",
             what="palette PNG whose background index is transparent"),
        Case("animated.gif", animated_gif(), "answer",
             what="animated GIF, 3 frames (a seven, then white, then black)"),
        Case("exif_rotated.jpg", exif_rotated_jpeg(), "answer",
             what="JPEG stored sideways with EXIF orientation 6"),
        Case("all_white.png", encode(Image.new("L", (200, 200), 255), "PNG"), "error", NO_INK,
             "all-white picture"),
        Case("all_black.jpg", encode(Image.new("RGB", (200, 200), (0, 0, 0)), "JPEG"), "error",
             NO_INK, "all-black JPEG"),
        Case("saturated_colours.png", saturated_colours(), "answer",
             what="pure red ink on pure blue (every channel 0 or 255)"),
        Case("float_extremes.png", float_extremes_tiff(), "answer",
             what="32-bit float TIFF (renamed .png) holding ±3e38, no NaN"),
        Case("one_bit.bmp", encode(seven().convert("1"), "BMP"), "answer",
             what="1-bit black-and-white BMP"),
        Case("seven.webp", encode(seven(mode="RGB", ink=(0, 0, 0), paper=(255, 255, 255)),
                                  "WEBP"), "answer", what="WebP"),
        Case("canvas.png", canvas_rgba(), "answer",
             what="RGBA drawing: white strokes on a transparent background"),
        Case("photo.jpg", photo_jpeg(), "answer", what="phone-photo-like JPEG on uneven paper"),
        Case(LONG_NAME, png7, "answer", what="200-character file name"),
        Case(NON_ASCII_NAME, jpeg7, "answer",
             what="non-ASCII file name (数字_七_ß.png), a JPEG"),
        Case(HTML_NAME, b"<script>alert(1)</script>", "error", NOT_A_PICTURE,
             "file name that is an HTML tag, content not a picture"),
        Case(DUPLICATE_NAME, png7, "answer", what="the same file again in the same batch"),
    ]
    return cases


def write_corpus(folder: Path) -> list[tuple[Case, Path]]:
    """Writes each distinct file into `folder`; returns (case, path) in upload order."""
    folder.mkdir(parents=True, exist_ok=True)
    written = []
    for case in hostile_cases():
        path = folder / case.name
        if not path.exists():
            path.write_bytes(case.data)
        written.append((case, path))
    return written
