"""The file to import: its size checked before it is read, then its bytes."""

from __future__ import annotations

from pathlib import Path

from lepton.i18n import message
from lepton.importer import limits
from lepton.importer.errors import DatasetImportError


def check_upload_size(size_bytes: int, limit: int = limits.MAX_UPLOAD_BYTES) -> None:
    """The server-side check of an upload's size (the browser's check can be bypassed).

    Raises:
        DatasetImportError: `size_bytes` is above `limit`.
    """
    if size_bytes > limit:
        raise DatasetImportError(message(
            "importer.upload_too_large", size=limits.megabytes(size_bytes, 1),
            limit=limits.megabytes(limit)))


def read_source(source, source_name: str | None) -> tuple[bytes, str]:
    """The bytes of a path or of bytes, and the file name to record."""
    if isinstance(source, (bytes, bytearray, memoryview)):
        data = bytes(source)
        source_name = source_name or "upload"
    else:
        path = Path(source)
        if not path.is_file():
            raise DatasetImportError(message("importer.not_a_file", path=str(path)))
        if path.stat().st_size > limits.MAX_SOURCE_BYTES:
            raise DatasetImportError(message(
                "importer.file_too_large", file=path.name,
                size=limits.megabytes(path.stat().st_size),
                limit=limits.megabytes(limits.MAX_SOURCE_BYTES)))
        data = path.read_bytes()
        source_name = source_name or path.name
    if len(data) > limits.MAX_SOURCE_BYTES:
        raise DatasetImportError(message("importer.bytes_too_large",
                                         limit=limits.megabytes(limits.MAX_SOURCE_BYTES)))
    if not data:
        raise DatasetImportError(message("importer.empty_file"))
    return data, source_name
