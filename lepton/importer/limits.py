"""How much one import may hold and cost, and the budget that counts it while it runs.

Other modules read these as `limits.NAME` at call time, so a test can lower one limit here.
"""

from __future__ import annotations

from lepton.i18n import message
from lepton.importer.errors import DatasetImportError

MAX_UPLOAD_BYTES = 20 * 2**20  # the app's limit; .streamlit/config.toml maxUploadSize = 20 (MB)
MAX_SOURCE_BYTES = 200 * 2**20  # a file imported from the command line
MAX_MEMBERS = 20_000  # zip entries (files and folders), read from the end record before parsing
MAX_TOTAL_BYTES = 512 * 2**20  # uncompressed bytes read from one archive, declared and actual
MAX_MEMBER_BYTES = 32 * 2**20  # one image file
MAX_IMAGE_PIXELS = 4_000_000  # one picture (2000×2000); lepton.imaging allows 25 M for uploads
MAX_TOTAL_PIXELS = 400_000_000  # decoded pixels of one import: bounds the CPU a zip can cost
MAX_IMAGES = 100_000  # images of an .npz (Fashion-MNIST has 70,000)
MAX_CLASSES = 1_000
SIDE_RANGE = (8, 128)  # input height/width; 28 is MNIST's, 32 CIFAR's
TEST_FRACTION_RANGE = (0.05, 0.5)
MAX_LISTED = 100  # duplicates/unreadable/ignored files named in a manifest (all are counted)


def megabytes(count: int, decimals: int = 0) -> str:
    """`count` bytes in MB as the messages show it, e.g. "512" or "21.0"."""
    return f"{count / 2**20:,.{decimals}f}"


class Budget:
    """Counts bytes actually read and pixels actually decoded across one import."""

    def __init__(self):
        self.bytes = 0
        self.pixels = 0

    def spend_bytes(self, count: int) -> None:
        self.bytes += count
        if self.bytes > MAX_TOTAL_BYTES:
            raise DatasetImportError(message("importer.unpacks_too_large",
                                             limit=megabytes(MAX_TOTAL_BYTES)))

    def spend_pixels(self, count: int) -> None:
        self.pixels += count
        if self.pixels > MAX_TOTAL_PIXELS:
            raise DatasetImportError(message("importer.decodes_too_large",
                                             limit=f"{MAX_TOTAL_PIXELS:,}"))
