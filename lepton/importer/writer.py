"""Writing a dataset: <name>.npz then <name>.json, each atomically, or nothing at all."""

from __future__ import annotations

import json
import os
import tempfile
from pathlib import Path

import numpy as np

from lepton.data import datasets_folder
from lepton.importer.options import validate_name


def write_dataset(home: Path, name: str, arrays: dict, manifest: dict, overwrite: bool) -> None:
    """Writes <name>.npz then <name>.json (the manifest makes the dataset exist), atomically."""
    folder = datasets_folder(home)
    folder.mkdir(parents=True, exist_ok=True)
    targets = {"npz": folder / f"{name}.npz", "json": folder / f"{name}.json"}
    temporary: list[Path] = []
    replaced_arrays = False
    try:
        with tempfile.NamedTemporaryFile(dir=folder, prefix=f".{name}.", suffix=".npz.tmp",
                                         delete=False) as handle:
            temporary.append(Path(handle.name))
            np.savez_compressed(handle, **arrays)
        manifest["data_file"] = targets["npz"].name
        manifest["data_bytes"] = temporary[0].stat().st_size
        with tempfile.NamedTemporaryFile("w", dir=folder, prefix=f".{name}.",
                                         suffix=".json.tmp", delete=False,
                                         encoding="utf-8") as handle:
            temporary.append(Path(handle.name))
            json.dump(manifest, handle, indent=2)
        validate_name(name, home, overwrite)  # another import may have taken the name meanwhile
        os.replace(temporary[0], targets["npz"])
        replaced_arrays = True
        os.replace(temporary[1], targets["json"])
    except BaseException:
        for path in temporary:
            path.unlink(missing_ok=True)
        if replaced_arrays and not targets["json"].exists():
            targets["npz"].unlink(missing_ok=True)
        raise
