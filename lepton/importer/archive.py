"""Zip forensics: count entries before parsing, refuse bombs and zip-slip names, read bounded.

Nothing is ever extracted to disk: members are read into memory, at most their declared size
(+1 byte, because headers can lie), and the bytes actually read are counted too.
"""

from __future__ import annotations

import io
import stat
import struct
import zipfile
import zlib

from lepton.i18n import message
from lepton.importer import limits
from lepton.importer.errors import DatasetImportError, Unreadable

SYSTEM_FILES = {"thumbs.db", "desktop.ini", "__macosx"}


def member_count(data: bytes) -> int:
    """Entries announced by the end-of-central-directory record, before any parsing.

    `zipfile` builds one object per entry, so an archive of millions of empty entries would cost
    memory before a count could be checked; the end record holds the count in a few bytes.
    """
    position = data.rfind(b"PK\x05\x06", max(0, len(data) - 65_557))
    if position < 0 or position + 22 > len(data):
        raise DatasetImportError(message("importer.not_a_zip"))
    count = struct.unpack_from("<H", data, position + 10)[0]
    if count != 0xFFFF:
        return count
    locator = position - 20  # zip64: the count is in the zip64 end record the locator points to
    if locator < 0 or data[locator:locator + 4] != b"PK\x06\x07":
        return count
    record = struct.unpack_from("<Q", data, locator + 8)[0]
    if record + 40 > len(data) or data[record:record + 4] != b"PK\x06\x06":
        raise DatasetImportError(message("importer.damaged_zip64"))
    return struct.unpack_from("<Q", data, record + 32)[0]


def open_zip(data: bytes) -> zipfile.ZipFile:
    """The archive, once its entry count and declared size are within the limits."""
    count = member_count(data)
    if count > limits.MAX_MEMBERS:
        raise DatasetImportError(message("importer.too_many_entries_announced",
                                         count=f"{count:,}", limit=f"{limits.MAX_MEMBERS:,}"))
    try:
        archive = zipfile.ZipFile(io.BytesIO(data))
    except (zipfile.BadZipFile, zipfile.LargeZipFile, ValueError, struct.error) as error:
        raise DatasetImportError(message("importer.unreadable_zip", detail=str(error))) from error
    infos = archive.infolist()
    if len(infos) > limits.MAX_MEMBERS:
        raise DatasetImportError(message("importer.too_many_entries", count=f"{len(infos):,}",
                                         limit=f"{limits.MAX_MEMBERS:,}"))
    declared = sum(info.file_size for info in infos)
    if declared > limits.MAX_TOTAL_BYTES:
        raise DatasetImportError(message("importer.declares_too_large",
                                         size=limits.megabytes(declared),
                                         limit=limits.megabytes(limits.MAX_TOTAL_BYTES)))
    return archive


def unsafe(path: str) -> bool:
    """Absolute paths, drive letters and `..` components: names that reach outside the target."""
    if path.startswith("/") or (len(path) > 1 and path[1] == ":"):
        return True
    return any(part == ".." for part in path.split("/"))


def scan(archive: zipfile.ZipFile):
    """Files (path parts, info), folder entries and ignored entries; refuses zip-slip names."""
    infos = archive.infolist()
    for info in infos:
        path = info.filename.replace("\\", "/")
        if unsafe(path) or "\x00" in path:
            raise DatasetImportError(message("importer.zip_slip", member=repr(info.filename)))
    members, folders, ignored = [], [], []
    for info in infos:
        path = info.filename.replace("\\", "/")
        parts = [part for part in path.split("/") if part not in ("", ".")]
        if not parts:
            continue
        if stat.S_ISLNK(info.external_attr >> 16):
            ignored.append({"file": path, "reason": "symbolic link (ignored: it could point "
                                                    "anywhere)"})
            continue
        if any(part.startswith(".") or part.lower() in SYSTEM_FILES for part in parts):
            if not info.is_dir():
                ignored.append({"file": path, "reason": "hidden or system file"})
            continue
        if info.is_dir():
            folders.append(parts)
        else:
            members.append((path, parts, info))
    return members, folders, ignored


def read_member(archive: zipfile.ZipFile, info: zipfile.ZipInfo, budget: limits.Budget) -> bytes:
    """The member's bytes, reading at most its declared size (+1 to catch a lying header)."""
    if info.file_size > limits.MAX_MEMBER_BYTES:
        raise Unreadable(message("importer.member_too_large",
                                 size=limits.megabytes(info.file_size),
                                 limit=limits.megabytes(limits.MAX_MEMBER_BYTES)))
    if info.flag_bits & 0x1:
        raise Unreadable(message("importer.member_encrypted"))
    try:
        with archive.open(info) as stream:
            content = stream.read(info.file_size + 1)
    except (zipfile.BadZipFile, zlib.error, NotImplementedError, RuntimeError, OSError,
            EOFError) as error:
        raise Unreadable(message("importer.member_damaged", detail=str(error))) from error
    budget.spend_bytes(len(content))
    if len(content) > info.file_size:
        raise DatasetImportError(message("importer.lying_header", member=repr(info.filename)))
    return content
