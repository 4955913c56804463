"""How fast can an upload be decoded at all? Pillow, as Lepton decodes, against other decoders.

    .venv/bin/python benchmarks/decoders.py [--rounds 7] [--files 30]

The same uploads as benchmarks/uploads.py (0.1–0.5 MP phone photos as JPEG and PNG, grayscale
scans as PNG, 12 MP phone JPEGs), each decoded by every decoder that is installed, one right
after the other in alternating order. Lepton's decoding (Pillow: a large JPEG drafted at 1/2 to
1/8 scale, a colour JPEG straight to its luminance) is the row to beat; the others are not
Lepton's dependencies, so only those importable are timed (`pip install opencv-python-headless
pyspng imagecodecs simplejpeg` to time them all). Each decodes to the least it can: grayscale
where it offers it. Prints a Markdown table and writes it to benchmarks/results/decoders.md.
"""

from __future__ import annotations

import argparse
import io
import os
import sys
import time
from datetime import UTC, datetime
from importlib import import_module, metadata
from pathlib import Path

import numpy as np
from PIL import Image

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from benchmarks.report import publish
from benchmarks.uploads import new_decode, phone_uploads, small_uploads
from lepton.host import cpu_model

RESULTS = ROOT / "benchmarks" / "results" / "decoders.md"


def _pillow_full(data: bytes):
    image = Image.open(io.BytesIO(data))
    image.load()
    return image


def _optional_decoders() -> dict:
    """name → (decode function, formats it reads) for the decoders that import here."""
    found = {}
    try:
        cv2 = import_module("cv2")
        found[f"OpenCV {cv2.__version__}, grayscale"] = (
            lambda data: cv2.imdecode(np.frombuffer(data, np.uint8), cv2.IMREAD_GRAYSCALE),
            ("JPEG", "PNG"))
    except ImportError:
        pass
    try:
        pyspng = import_module("pyspng")
        found[f"pyspng {metadata.version('pyspng')} (libspng)"] = (pyspng.load, ("PNG",))
    except (ImportError, metadata.PackageNotFoundError):
        pass
    try:
        codecs = import_module("imagecodecs")
        found[f"imagecodecs {codecs.__version__} libpng"] = (codecs.png_decode, ("PNG",))
        found[f"imagecodecs {codecs.__version__} libspng"] = (codecs.spng_decode, ("PNG",))
    except ImportError:
        pass
    try:
        simplejpeg = import_module("simplejpeg")
        found[f"simplejpeg {metadata.version('simplejpeg')}, grayscale"] = (
            lambda data: simplejpeg.decode_jpeg(data, colorspace="GRAY"), ("JPEG",))
    except (ImportError, metadata.PackageNotFoundError):
        pass
    return found


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=7, help="timed decodes per file")
    parser.add_argument("--files", type=int, default=30, help="0.1–0.5 MP files per kind")
    parser.add_argument("--output", type=Path, default=RESULTS)
    args = parser.parse_args(argv)

    uploads = small_uploads(args.files) + phone_uploads()
    decoders = {
        f"Lepton (Pillow {metadata.version('pillow')}, drafted, luma)": (new_decode,
                                                                        ("JPEG", "PNG")),
        "Pillow, full colour decode": (_pillow_full, ("JPEG", "PNG")),
        **_optional_decoders(),
    }
    formats = [Image.open(io.BytesIO(upload.data)).format for upload in uploads]
    timings = {name: {} for name in decoders}  # decoder → kind → milliseconds
    for round_index in range(args.rounds + 1):  # round 0 warms up and is not kept
        print(f"round {round_index}/{args.rounds}", file=sys.stderr, flush=True)
        for number, (upload, file_format) in enumerate(zip(uploads, formats)):
            names = [name for name, (_, reads) in decoders.items() if file_format in reads]
            if (round_index + number) % 2:
                names.reverse()
            for name in names:
                started = time.perf_counter()
                decoders[name][0](upload.data)
                elapsed = (time.perf_counter() - started) * 1000
                if round_index:
                    timings[name].setdefault(upload.kind, []).append(elapsed)

    kinds = list(dict.fromkeys(upload.kind for upload in uploads))
    lines = [
        "# Upload decoding: Lepton's decoder against others",
        "",
        f"Measured {datetime.now(UTC).isoformat(timespec='seconds')} on {cpu_model()} "
        f"({os.cpu_count()} logical cores). Every file decoded by every decoder that reads its "
        f"format, in alternating order, {args.rounds} timed rounds after a warm-up; p50 / p95 "
        "ms over every timed call of the kind (time.perf_counter). The uploads are "
        "benchmarks/uploads.py's.",
        "",
        "| decoder | " + " | ".join(kinds) + " |",
        "|---|" + "---:|" * len(kinds),
    ]
    for name, per_kind in timings.items():
        cells = []
        for kind in kinds:
            samples = per_kind.get(kind)
            cells.append("—" if not samples else
                         "{:.2f} / {:.2f}".format(*np.percentile(samples, [50, 95])))
        lines.append(f"| {name} | " + " | ".join(cells) + " |")
    publish("\n".join(lines) + "\n", args.output)
    return 0


if __name__ == "__main__":
    sys.exit(main())
