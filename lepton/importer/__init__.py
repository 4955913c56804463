"""Bring your own data: a zip of class folders or an .npz of arrays → a checked, stored dataset.

Nothing is ever extracted to disk. Zip members are read into memory with bounded reads (the
declared sizes are checked first, then the bytes actually read are counted, because headers can
lie), decoded with Pillow, resized, deduplicated by content hash and split; the result is one
compressed `.npz` plus a JSON manifest under `LEPTON_HOME/datasets/`, both written atomically
(temporary file in the same folder, then `os.replace`), so a failed import leaves nothing behind.

Modules: `source` (the file and its size), `options` (name and input options), `archive` (zip
forensics), `layout` (class folders), `pictures` (a picture → a model input), `arrays` (.npz
checks), `split`, `manifest`, `writer`, and `pipeline` (the imports). Every refusal is a
`DatasetImportError` whose message is a `lepton.i18n.Message` ("importer.*" in lepton/locales).
"""

from lepton.importer.errors import DatasetImportError
from lepton.importer.limits import MAX_MEMBERS, MAX_UPLOAD_BYTES
from lepton.importer.pipeline import import_file, import_npz, import_zip
from lepton.importer.source import check_upload_size

__all__ = [
    "MAX_MEMBERS",
    "MAX_UPLOAD_BYTES",
    "DatasetImportError",
    "check_upload_size",
    "import_file",
    "import_npz",
    "import_zip",
]
