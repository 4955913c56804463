"""lepton.importer: zip and npz imports, every safety refusal, then train and predict on it."""

import hashlib
import io
import json
import os
import re
import stat
import zipfile

import numpy as np
import pytest

from lepton import importer
from lepton.data import (
    available_datasets,
    custom_datasets,
    delete_dataset,
    describe_datasets,
    load_dataset,
)
from lepton.i18n import Message
from lepton.importer import DatasetImportError, import_npz, import_zip, limits
from tests.conftest import SMALL_MODEL
from tests.shape_images import SHAPE_CLASSES, png_bytes, shape_image, shapes_zip

SIZE = (32, 32)


@pytest.fixture(scope="module")
def shapes():
    """24 pictures per class of 40×40 RGB red circles, green squares and blue triangles."""
    return shapes_zip(per_class=24)


def stored_files(home):
    """Everything in LEPTON_HOME/datasets (temporary files included)."""
    folder = home / "datasets"
    return sorted(path.name for path in folder.iterdir()) if folder.exists() else []


def zip_of(entries: dict) -> bytes:
    """A zip from {name or ZipInfo: bytes}, names kept exactly as given (even hostile ones)."""
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED) as archive:
        for name, content in entries.items():
            archive.writestr(name, content)
    return buffer.getvalue()


def shape_entries(classes=SHAPE_CLASSES, per_class=4) -> dict:
    return {f"{kind}/{index}.png": png_bytes(shape_image(kind, seed=index + 50 * label))
            for label, kind in enumerate(classes) for index in range(per_class)}


# --- A good zip -----------------------------------------------------------------------------


def test_import_zip_stores_arrays_and_manifest(lepton_home, shapes):
    manifest = import_zip(shapes, "shapes", home=lepton_home, size=SIZE, channels=3,
                          source_name="my shapes.zip")
    assert stored_files(lepton_home) == ["shapes.json", "shapes.npz"]
    on_disk = json.loads((lepton_home / "datasets" / "shapes.json").read_text())
    assert on_disk == manifest
    assert manifest["source_file"] == "my shapes.zip"
    assert manifest["source_sha256"] == hashlib.sha256(shapes).hexdigest()
    assert manifest["classes"] == list(SHAPE_CLASSES)
    assert manifest["input_shape"] == [32, 32, 3]
    assert manifest["preprocessing"] == "plain"
    assert manifest["counts"]["train"] == 57 and manifest["counts"]["test"] == 15
    assert manifest["counts"]["per_class"]["circles"] == {"train": 19, "test": 5}
    assert "seeded stratified split (seed 0, 20% test)" == manifest["split"]

    dataset = load_dataset("shapes")
    assert dataset.x_train.shape == (57, 32, 32, 3) and dataset.x_test.shape == (15, 32, 32, 3)
    assert dataset.x_train.dtype == np.float32 and 0 <= dataset.x_train.min() <= 1
    assert dataset.class_names == SHAPE_CLASSES
    assert dataset.preprocessing == "plain"
    assert "my shapes.zip" in dataset.source and manifest["source_sha256"][:12] in dataset.source
    # Keras validates on the *last* share of the training arrays: they must not be class-sorted.
    assert len(set(dataset.y_train[-12:].tolist())) > 1
    red = dataset.x_train[dataset.y_train == 0][..., 0].mean()
    assert red > dataset.x_train[dataset.y_train == 2][..., 0].mean()  # RGB order kept


def test_split_is_seeded(lepton_home, shapes):
    first = import_zip(shapes, "first", home=lepton_home, seed=3)
    again = import_zip(shapes, "again", home=lepton_home, seed=3)
    assert first["counts"] == again["counts"]
    np.testing.assert_array_equal(load_dataset("first").x_test, load_dataset("again").x_test)


def test_duplicates_unreadable_and_stray_files_are_counted(lepton_home):
    entries = shape_entries()
    entries.update({
        "circles/copy.png": entries["circles/0.png"],  # same bytes under another name
        "squares/broken.png": b"\x89PNG\r\n\x1a\n not really",
        "squares/huge.png": png_bytes(shape_image("squares", 1, size=2100)),  # 4.4 M pixels
        "README.txt": b"my dataset",
        ".DS_Store": b"\0\0",
        "__MACOSX/circles/._0.png": b"\0",
    })
    manifest = import_zip(zip_of(entries), "counted", home=lepton_home)
    counts = manifest["counts"]
    assert (counts["duplicates"], counts["unreadable"], counts["ignored"]) == (1, 2, 3)
    assert manifest["duplicates"] == [{"file": "circles/copy.png", "same_as": "circles/0.png"}]
    reasons = {item["file"]: item["reason"] for item in manifest["unreadable"]}
    assert "decoded" in reasons["squares/broken.png"] or "Pillow" in reasons["squares/broken.png"]
    assert "4,410,000 pixels is above the 4,000,000 allowed" in reasons["squares/huge.png"]
    assert counts["train"] + counts["test"] == 12


def test_one_common_top_folder_is_skipped(lepton_home):
    """Zipping the folder itself (pets/cats/…) is what people do."""
    entries = {f"pets/{name}": content for name, content in shape_entries().items()}
    manifest = import_zip(zip_of(entries), "nested", home=lepton_home)
    assert manifest["classes"] == list(SHAPE_CLASSES)


def test_train_and_test_folders_give_the_split(lepton_home):
    entries = {f"train/{name}": content for name, content in shape_entries(per_class=4).items()}
    entries.update({f"test/{kind}/t.png": png_bytes(shape_image(kind, 900 + label))
                    for label, kind in enumerate(SHAPE_CLASSES)})
    manifest = import_zip(zip_of(entries), "given", home=lepton_home)
    assert manifest["classes"] == list(SHAPE_CLASSES)
    assert (manifest["counts"]["train"], manifest["counts"]["test"]) == (12, 3)
    assert "given by the archive" in manifest["split"]


def test_digit_like_data_uses_the_mnist_recipe(lepton_home):
    manifest = import_zip(zip_of(shape_entries()), "digitish", home=lepton_home,
                          digit_like=True)
    assert manifest["preprocessing"] == "digit"
    assert load_dataset("digitish").input_shape == (28, 28, 1)
    with pytest.raises(DatasetImportError, match="28×28 grayscale"):
        import_zip(zip_of(shape_entries()), "digit32", home=lepton_home, size=SIZE,
                   digit_like=True)


# --- Safety ---------------------------------------------------------------------------------


@pytest.mark.parametrize("hostile", ["../evil.png", "/abs.png", "circles/../../evil.png",
                                     "C:/evil.png", "..\\evil.png"])
def test_zip_slip_is_refused_and_nothing_is_written(lepton_home, tmp_path, hostile):
    entries = {**shape_entries(), hostile: png_bytes(shape_image("circles", 7))}
    before = sorted(path.name for path in tmp_path.parent.iterdir())
    with pytest.raises(DatasetImportError, match="zip-slip") as refused:
        import_zip(zip_of(entries), "slip", home=lepton_home)
    assert "Nothing was written" in str(refused.value)
    assert stored_files(lepton_home) == []
    assert sorted(path.name for path in tmp_path.parent.iterdir()) == before
    assert not (lepton_home / "evil.png").exists() and not (tmp_path / "evil.png").exists()
    assert "slip" not in available_datasets(lepton_home)


def test_zip_bomb_by_declared_size_is_refused(lepton_home, monkeypatch):
    """A highly compressible member (zeros) declaring more than the total allowed."""
    monkeypatch.setattr(limits, "MAX_TOTAL_BYTES", 2**20)
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED) as archive:
        for name, content in shape_entries().items():
            archive.writestr(name, content)
        with archive.open("circles/bomb.png", "w") as member:
            for _ in range(3):
                member.write(bytes(2**20))
    assert len(buffer.getvalue()) < 50_000
    with pytest.raises(DatasetImportError, match="declares 3 MB .* zip bomb"):
        import_zip(buffer.getvalue(), "bomb", home=lepton_home)
    assert stored_files(lepton_home) == []


def _lie_about_size(archive_bytes: bytes, member: str, declared: int) -> bytes:
    """Rewrites a member's uncompressed size in its local and its central directory header."""
    data = bytearray(archive_bytes)
    info = zipfile.ZipFile(io.BytesIO(archive_bytes)).getinfo(member)
    data[info.header_offset + 22:info.header_offset + 26] = declared.to_bytes(4, "little")
    end = archive_bytes.rfind(b"PK\x05\x06")
    position = int.from_bytes(data[end + 16:end + 20], "little")  # central directory start
    while data[position:position + 4] == b"PK\x01\x02":
        name, extra, comment = (int.from_bytes(data[position + at:position + at + 2], "little")
                                for at in (28, 30, 32))
        if data[position + 46:position + 46 + name] == member.encode():
            data[position + 24:position + 28] = declared.to_bytes(4, "little")
        position += 46 + name + extra + comment
    return bytes(data)


def test_zip_bomb_with_a_lying_header_is_cut_at_the_declared_size(lepton_home):
    """Headers can lie: a member claiming 1,000 bytes that inflates to 4 MB is read only up to
    its declared size, fails its CRC check and is reported; the other pictures still import."""
    entries = shape_entries()
    entries["circles/liar.png"] = bytes(4 * 2**20)
    crafted = _lie_about_size(zip_of(entries), "circles/liar.png", 1000)
    assert zipfile.ZipFile(io.BytesIO(crafted)).getinfo("circles/liar.png").file_size == 1000
    manifest = import_zip(crafted, "liar", home=lepton_home)
    reasons = {item["file"]: item["reason"] for item in manifest["unreadable"]}
    assert "damaged archive member" in reasons["circles/liar.png"]
    assert "CRC" in reasons["circles/liar.png"]
    assert manifest["counts"]["train"] + manifest["counts"]["test"] == 12


def test_too_many_members_are_refused_before_parsing(lepton_home):
    entries = shape_entries()
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", zipfile.ZIP_STORED) as archive:
        for name, content in entries.items():
            archive.writestr(name, content)
        for index in range(importer.MAX_MEMBERS):
            archive.writestr(f"circles/empty{index}", b"")
    with pytest.raises(DatasetImportError, match="20,012 entries, more than the 20,000"):
        import_zip(buffer.getvalue(), "many", home=lepton_home)
    assert stored_files(lepton_home) == []


def test_symlink_members_are_ignored(lepton_home):
    link = zipfile.ZipInfo("circles/passwd.png")
    link.external_attr = (stat.S_IFLNK | 0o777) << 16
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as archive:
        for name, content in shape_entries().items():
            archive.writestr(name, content)
        archive.writestr(link, "../../../../etc/passwd")
    manifest = import_zip(buffer.getvalue(), "linked", home=lepton_home)
    assert manifest["ignored"] == [{"file": "circles/passwd.png",
                                    "reason": "symbolic link (ignored: it could point anywhere)"}]
    assert manifest["counts"]["train"] + manifest["counts"]["test"] == 12


def test_a_single_class_is_refused(lepton_home):
    with pytest.raises(DatasetImportError, match="single class \\('circles'\\)"):
        import_zip(zip_of(shape_entries(classes=("circles",))), "one", home=lepton_home)
    assert stored_files(lepton_home) == []


def test_an_empty_class_folder_is_refused(lepton_home):
    entries = {**shape_entries(), "birds/": b""}
    with pytest.raises(DatasetImportError, match="Class folder 'birds' is empty"):
        import_zip(zip_of(entries), "empty", home=lepton_home)


def test_a_class_of_only_unreadable_pictures_is_refused(lepton_home):
    entries = {**shape_entries(), "birds/1.png": b"nope", "birds/2.png": b"nope either"}
    with pytest.raises(DatasetImportError, match="Class 'birds' has no readable pictures"):
        import_zip(zip_of(entries), "unreadable", home=lepton_home)
    assert stored_files(lepton_home) == []


def test_not_a_zip_is_refused(lepton_home):
    with pytest.raises(DatasetImportError, match="not a zip archive"):
        import_zip(b"just some text", "text", home=lepton_home)


@pytest.mark.parametrize("name", ["", "Pets", "../pets", "pets/x", "-pets", "a" * 41, "pets!",
                                  "mnist", "fashion-mnist", "auto"])
def test_bad_names_are_refused(lepton_home, shapes, name):
    with pytest.raises(DatasetImportError):
        import_zip(shapes, name, home=lepton_home)
    assert stored_files(lepton_home) == []


def test_an_existing_name_needs_overwrite(lepton_home, shapes):
    import_zip(shapes, "pets", home=lepton_home)
    with pytest.raises(DatasetImportError, match="already exists"):
        import_zip(shapes, "pets", home=lepton_home, size=SIZE)
    import_zip(shapes, "pets", home=lepton_home, size=SIZE, overwrite=True)
    assert load_dataset("pets").input_shape == (32, 32, 1)


@pytest.mark.parametrize("failing", ["savez", "manifest"])
def test_a_failed_import_leaves_nothing_behind(lepton_home, shapes, monkeypatch, failing):
    real_replace = os.replace

    def fail(*arguments, **keywords):
        raise OSError("disk full")

    def fail_on_manifest(source, target):
        if str(target).endswith(".json"):
            raise OSError("disk full")
        real_replace(source, target)

    if failing == "savez":
        monkeypatch.setattr(np, "savez_compressed", fail)
    else:
        monkeypatch.setattr(os, "replace", fail_on_manifest)
    with pytest.raises(OSError, match="disk full"):
        import_zip(shapes, "partial", home=lepton_home)
    assert stored_files(lepton_home) == []
    assert "partial" not in available_datasets(lepton_home)


def test_upload_size_is_checked_on_the_server():
    importer.check_upload_size(importer.MAX_UPLOAD_BYTES)
    with pytest.raises(DatasetImportError, match="21.0 MB, above the 20 MB upload limit"):
        importer.check_upload_size(21 * 2**20)


# --- .npz -----------------------------------------------------------------------------------


def npz_bytes(save=np.savez_compressed, **arrays) -> bytes:
    buffer = io.BytesIO()
    save(buffer, **arrays)
    return buffer.getvalue()


def digit_arrays(count=40, side=28):
    generator = np.random.default_rng(0)
    labels = np.arange(count) % 4
    images = generator.integers(0, 256, size=(count, side, side), dtype=np.uint8)
    return images, labels


def test_import_npz_keeps_the_given_split(lepton_home):
    images, labels = digit_arrays()
    data = npz_bytes(x_train=images[:32], y_train=labels[:32], x_test=images[32:],
                     y_test=labels[32:], class_names=np.array(["a", "b", "c", "d"]))
    manifest = import_npz(data, "arrays", home=lepton_home, source_name="arrays.npz")
    assert manifest["classes"] == ["a", "b", "c", "d"]
    assert (manifest["counts"]["train"], manifest["counts"]["test"]) == (32, 8)
    assert "given by the .npz" in manifest["split"]
    dataset = load_dataset("arrays")
    np.testing.assert_allclose(dataset.x_train[..., 0], images[:32] / 255.0, atol=1e-6)
    np.testing.assert_array_equal(dataset.y_test, labels[32:])


def test_import_npz_resizes_float_rgb_images(lepton_home):
    generator = np.random.default_rng(1)
    images = generator.random((20, 40, 50, 3)).astype(np.float32)
    labels = np.arange(20) % 2
    data = npz_bytes(x_train=images[:16], y_train=labels[:16], x_test=images[16:],
                     y_test=labels[16:])
    manifest = import_npz(data, "floats", home=lepton_home, size=SIZE, channels=3)
    assert manifest["classes"] == ["0", "1"]
    assert load_dataset("floats").x_train.shape == (16, 32, 32, 3)


def test_npz_object_arrays_are_refused_not_unpickled(lepton_home):
    """allow_pickle=False: a pickled object array could run code when loaded."""
    images, labels = digit_arrays()
    names = np.array(["a", "b", "c", {"not": "a string"}], dtype=object)
    data = npz_bytes(np.savez, x_train=images, y_train=labels, x_test=images, y_test=labels,
                     class_names=names)
    with pytest.raises(DatasetImportError, match="holds Python objects.*allow_pickle=False"):
        import_npz(data, "pickled", home=lepton_home)
    assert stored_files(lepton_home) == []


def test_npz_missing_arrays_and_bad_labels_are_refused(lepton_home):
    images, labels = digit_arrays()
    with pytest.raises(DatasetImportError, match="lacks x_test, y_test"):
        import_npz(npz_bytes(x_train=images, y_train=labels), "partial", home=lepton_home)
    with pytest.raises(DatasetImportError, match="single class"):
        import_npz(npz_bytes(x_train=images, y_train=labels * 0, x_test=images,
                             y_test=labels * 0), "single", home=lepton_home)
    with pytest.raises(DatasetImportError, match="40 images but y_train has 39"):
        import_npz(npz_bytes(x_train=images, y_train=labels[:39], x_test=images,
                             y_test=labels), "short", home=lepton_home)


# --- Refusals in the user's language --------------------------------------------------------

HAN = re.compile(r"[\u4e00-\u9fff]")


def refused(importing) -> DatasetImportError:
    with pytest.raises(DatasetImportError) as refusal:
        importing()
    return refusal.value


@pytest.mark.parametrize("case", ["empty zip", "zip-slip", "mismatched npz", "upload size"])
def test_refusals_carry_a_message_in_english_and_chinese(lepton_home, case):
    """The app shows `error.args[0].text(language)`; the CLI and the tests read `str(error)`."""
    images, labels = digit_arrays()
    importing = {
        "empty zip": lambda: import_zip(zip_of({}), "empty", home=lepton_home),
        "zip-slip": lambda: import_zip(zip_of({**shape_entries(), "../evil.png": b"x"}),
                                       "slip", home=lepton_home),
        "mismatched npz": lambda: import_npz(
            npz_bytes(x_train=images, y_train=labels[:39], x_test=images, y_test=labels),
            "short", home=lepton_home),
        "upload size": lambda: importer.check_upload_size(21 * 2**20),
    }[case]
    error = refused(importing)
    (reason,) = error.args
    assert isinstance(reason, Message) and reason.key.startswith("importer.")
    assert reason.text("en") == str(error)
    assert HAN.search(reason.text("zh")), reason.text("zh")
    if case == "zip-slip":  # names, paths and numbers stay as they are
        assert "'../evil.png'" in reason.text("zh")


def test_a_quoted_reason_is_translated_too(lepton_home, monkeypatch):
    """An unreadable array quotes the member's reason: both render in the same language."""
    images, labels = digit_arrays()
    data = npz_bytes(x_train=images, y_train=labels, x_test=images, y_test=labels)
    monkeypatch.setattr(limits, "MAX_MEMBER_BYTES", 100)
    error = refused(lambda: import_npz(data, "large", home=lepton_home))
    assert str(error) == "x_train cannot be read: 0 MB is above the 0 MB allowed per picture."
    assert error.args[0].text("zh") == "无法读取 x_train：0 MB 超过每张图片允许的 0 MB。"


# --- Listing, deleting, the command line ----------------------------------------------------


def test_listing_and_deleting(lepton_home, shapes):
    import_zip(shapes, "pets", home=lepton_home, size=SIZE, channels=3)
    assert available_datasets()[-1] == "pets"
    assert [manifest["name"] for manifest in custom_datasets()] == ["pets"]
    entry = {item["name"]: item for item in describe_datasets()}["pets"]
    assert entry["train_samples"] == 57 and entry["kind"] == "imported"
    assert entry["preprocessing"] == "plain" and "sha256" in entry["where"]
    with pytest.raises(ValueError, match="built-in"):
        delete_dataset("mnist-5k")
    delete_dataset("pets")
    assert stored_files(lepton_home) == []
    with pytest.raises(ValueError, match="Unknown dataset 'pets'"):
        load_dataset("pets")
    with pytest.raises(ValueError, match="no imported dataset"):
        delete_dataset("pets")


def test_cli_imports_lists_and_deletes(lepton_home, tmp_path, capsys, shapes):
    from lepton.cli import main

    path = tmp_path / "shapes.zip"
    path.write_bytes(shapes)
    assert main(["datasets", "import", str(path), "--name", "cli-shapes", "--size", "32",
                 "--channels", "3", "--json"]) == 0
    imported = json.loads(capsys.readouterr().out)
    assert imported["name"] == "cli-shapes" and imported["input_shape"] == [32, 32, 3]
    assert main(["datasets", "--json"]) == 0
    listed = [item["name"] for item in json.loads(capsys.readouterr().out)["datasets"]]
    assert listed[-1] == "cli-shapes" and "fashion-mnist" in listed
    assert main(["datasets", "import", str(path), "--name", "cli-shapes"]) == 2
    assert "already exists" in capsys.readouterr().err
    assert main(["datasets", "delete", "cli-shapes"]) == 0
    assert stored_files(lepton_home) == []


# --- Train on it and predict a new picture --------------------------------------------------


def test_train_one_epoch_and_predict_a_new_picture(lepton_home, store):
    """The whole promise: zip → import → train → accuracy → a new picture gets the right class."""
    from lepton.imaging import preparer
    from lepton.jobs import execute_run
    from lepton.prediction import predictor_for
    from lepton.training import TrainConfig

    import_zip(shapes_zip(per_class=60), "shapes", home=lepton_home, size=SIZE, channels=3)
    run_id = store.create_run(
        "shapes", SMALL_MODEL.to_dict(),
        TrainConfig(epochs=1, batch_size=8, learning_rate=5e-3, validation_split=0.0).to_dict(),
    )
    run = execute_run(store, run_id)
    assert run["status"] == "done", run["reason"]
    assert run["model_config"]["input_shape"] == [32, 32, 3]
    assert run["model_config"]["num_classes"] == 3
    assert run["metrics"]["preprocessing"] == "plain"
    assert run["metrics"]["class_names"] == list(SHAPE_CLASSES)
    assert run["metrics"]["test_accuracy"] >= 0.8
    prepare, description = preparer(run["metrics"]["preprocessing"],
                                    run["model_config"]["input_shape"])
    assert description.startswith("plain resize to 32×32 RGB")
    predictor = predictor_for(run["model_path"])
    for label, kind in enumerate(SHAPE_CLASSES):  # new pictures: unseen seeds, another size
        picture = png_bytes(shape_image(kind, seed=77_000 + label, size=64))
        probabilities = predictor(prepare(picture).input[np.newaxis])[0]
        assert SHAPE_CLASSES[int(np.argmax(probabilities))] == kind
