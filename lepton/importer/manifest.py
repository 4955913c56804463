"""The manifest of an imported dataset: where it came from, what it holds, what was skipped."""

from __future__ import annotations

import hashlib
from datetime import UTC, datetime
from pathlib import Path

import numpy as np

from lepton.importer import limits


def build_manifest(name, kind, data, source_name, options, arrays, split, files, duplicates,
                   unreadable, ignored) -> dict:
    """The manifest's fields (the writer adds data_file and data_bytes)."""
    classes = [str(value) for value in arrays["class_names"].tolist()]
    per_class = {
        class_name: {"train": int(np.sum(arrays["y_train"] == label)),
                     "test": int(np.sum(arrays["y_test"] == label))}
        for label, class_name in enumerate(classes)
    }
    return {
        "name": name,
        "format": 1,
        "kind": kind,
        "created": datetime.now(UTC).isoformat(timespec="seconds"),
        "source_file": Path(source_name).name[:200],
        "source_sha256": hashlib.sha256(data).hexdigest(),
        "source_bytes": len(data),
        "input_shape": list(options["input_shape"]),
        "preprocessing": "digit" if options["digit_like"] else "plain",
        "classes": classes,
        "counts": {"train": int(len(arrays["y_train"])), "test": int(len(arrays["y_test"])),
                   "per_class": per_class, "files": int(files),
                   "duplicates": len(duplicates), "unreadable": len(unreadable),
                   "ignored": len(ignored)},
        "split": str(split),  # in English; "split_message" shows it in any language
        "split_message": split.to_dict(),
        "duplicates": duplicates[:limits.MAX_LISTED],
        "unreadable": unreadable[:limits.MAX_LISTED],
        "ignored": ignored[:limits.MAX_LISTED],
    }
