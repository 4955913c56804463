"""The Formula lab and Architecture pages under AppTest: controls, shapes, errata, feature maps."""

import pytest
from streamlit.testing.v1 import AppTest

from lepton import ops
from lepton.model import ModelConfig, build_model
from lepton.registry import RunStore
from lepton.training import TrainConfig
from tests.app.session import open_page


def metric(at: AppTest, label: str) -> str:
    values = [item.value for item in at.metric if item.label == label]
    assert values, f"no metric {label!r}; have {[item.label for item in at.metric]}"
    return values[0]


def frame_with(at: AppTest, column: str):
    """The first table (data editors included) that has `column`."""
    frames = [frame.value for frame in at.dataframe if column in frame.value.columns]
    assert frames, f"no table with a {column!r} column"
    return frames[0]


@pytest.fixture
def lab(lepton_home):
    return open_page("pages/formula_lab.py")


@pytest.fixture
def architecture(lepton_home):
    return open_page("pages/architecture.py")


# --- formula lab ----------------------------------------------------------------------------


def test_formula_lab_steps_through_the_articles_example(lab):
    assert metric(lab, "Output shape") == "3×3"
    assert lab.code[0].value == ("y[0, 0] = 0×0 + 0×1 + 0×0 + 0×1 + 1×0 + 2×1 + 0×0 + 4×1 + 5×0"
                                 " + 0 = 6")

    lab.slider(key="conv_step").set_value(5).run()

    assert not lab.exception
    assert lab.code[0].value == ("y[1, 1] = 1×0 + 2×1 + 3×0 + 4×1 + 5×0 + 6×1 + 7×0 + 8×1"
                                 " + 9×0 + 0 = 20")


SHAPE_CASES = (  # (input size, kernel size, stride, padding)
    (3, 3, 1, "valid"), (3, 3, 2, "same"), (5, 3, 2, "valid"), (8, 2, 3, "valid"),
    (8, 3, 3, "same"), (7, 1, 3, "valid"), (4, 2, 1, "same"),
)


def test_formula_lab_output_shape_follows_stride_and_padding(lab):
    # One app for all cases: each AppTest start costs about a second.
    for size, kernel, stride, padding in SHAPE_CASES:
        lab.slider(key="conv_size").set_value(size)
        lab.slider(key="conv_kernel_size").set_value(kernel)
        lab.slider(key="conv_stride").set_value(stride)
        lab.radio(key="conv_padding").set_value(padding).run()

        case = f"n={size} k={kernel} s={stride} {padding}"
        assert not lab.exception, case
        side = ops.output_size(size, kernel, stride, padding)
        assert metric(lab, "Output shape") == f"{side}×{side}", case
        if side > 1:
            assert lab.slider(key="conv_step").max == side * side, case
        else:
            assert "conv_step" not in [slider.key for slider in lab.slider], case


def test_formula_lab_keeps_the_step_in_range_when_the_output_shrinks(lab):
    lab.slider(key="conv_step").set_value(9).run()
    lab.slider(key="conv_stride").set_value(2).run()

    assert not lab.exception
    assert not lab.warning  # e.g. Streamlit's "default value but also set via Session State"
    assert lab.slider(key="conv_step").value == 4
    assert lab.code[0].value.startswith("y[1, 1] =")


def test_formula_lab_refuses_a_kernel_larger_than_the_input(lab):
    lab.radio(key="conv_padding").set_value("valid")
    lab.slider(key="conv_kernel_size").set_value(5).run()

    assert not lab.exception
    assert "refused" in lab.error[0].value and "padding='same'" in lab.error[0].value
    assert "Output shape" not in [item.label for item in lab.metric]


def test_formula_lab_warns_when_the_stride_skips_cells(lab):
    lab.slider(key="conv_size").set_value(7)
    lab.slider(key="conv_kernel_size").set_value(1)
    lab.slider(key="conv_stride").set_value(3)
    lab.radio(key="conv_padding").set_value("valid").run()

    assert any("fall under no kernel" in warning.value for warning in lab.warning)


def test_formula_lab_flips_the_kernel_for_true_convolution(lab):
    lab.slider(key="conv_kernel_size").set_value(2)
    lab.radio(key="conv_padding").set_value("valid").run()
    cross_correlation = lab.code[0].value

    lab.toggle(key="conv_flip").set_value(True).run()

    assert not lab.exception
    # default 2×2 kernel [[1, -1], [-1, 1]] is symmetric under 180°; the first window is 1 2 / 4 5
    expected = "y[0, 0] = 1×1 + 2×(-1) + 4×(-1) + 5×1 + 0 = 0"
    assert lab.code[0].value == cross_correlation == expected
    assert any("changes nothing" in info.value for info in lab.info)


def test_formula_lab_pooling_activations_and_dense(lab):
    assert metric(lab, "Pooled shape") == "2×2"
    assert "max[0, 0] = max(1, 3, 4, 6) = 6" in lab.code[1].value
    assert "avg[0, 0] = (1 + 3 + 4 + 6) / 4 = 3.5" in lab.code[1].value
    table = frame_with(lab, "softmax")
    assert table["softmax"].sum() == pytest.approx(1.0)
    assert list(table["ReLU"]) == [0, 0, 0, 1, 3]
    assert lab.code[2].value.splitlines()[0] == "y[0] = 1×0.5 + 2×0.25 + 3×1 + 0.1 = 4.1"

    lab.slider(key="pool_window").set_value(3)
    lab.slider(key="pool_stride").set_value(1).run()

    assert not lab.exception
    assert metric(lab, "Pooled shape") == "2×2"


def test_formula_lab_shows_the_corrected_example_and_the_errata(lab):
    corrections = " ".join(box.value for box in lab.success)
    assert "[[20]]" in corrections
    assert "[[6, 9, 8], [13, 20, 17], [12, 21, 14]]" in corrections
    claims = " ".join(box.value for box in lab.error)
    assert '"归一化指数函数"' in claims
    assert "[[4, 6, 9], [7, 10, 13], [4, 6, 9]]" in claims
    assert "softmax" in corrections
    assert len(lab.latex) >= 8  # formulas beside every demo


# --- architecture ---------------------------------------------------------------------------


def test_architecture_page_draws_the_reference_network(architecture):
    table = architecture.dataframe[0].value
    assert table.iloc[-1]["Layer"] == "Total"
    assert table.iloc[-1]["Params"] == 225_034
    assert list(table["Layer"][:-1]) == ["image", "conv1", "pool1", "conv2", "pool2", "flatten",
                                         "dense", "output"]
    assert metric(architecture, "Parameters") == "225,034"
    charts = architecture.get("graphviz_chart")
    assert len(charts) == 5  # the network and the article's four figures
    assert '"conv2" [label="conv2 · Conv2D' in charts[0].proto.spec
    assert "卷积层" in charts[1].proto.spec
    assert any("untrained" in info.value for info in architecture.info)


def test_architecture_page_custom_configuration(architecture):
    architecture.radio(key="arch_source").set_value("Custom").run()
    architecture.slider(key="arch_blocks").set_value(3)
    architecture.slider(key="arch_kernel").set_value(2).run()

    assert not architecture.exception
    expected = build_model(ModelConfig(filters=(32, 64, 64), kernel_size=2)).count_params()
    assert architecture.dataframe[0].value.iloc[-1]["Params"] == expected

    architecture.slider(key="arch_kernel").set_value(7).run()

    assert not architecture.exception
    assert "shrink" in architecture.error[0].value


def test_architecture_page_shows_feature_maps_of_a_finished_run(lepton_home, tiny_model,
                                                                  tiny_data):
    from tests.conftest import SMALL_MODEL

    store = RunStore(lepton_home)
    run_id = store.create_run("mnist-5k", SMALL_MODEL.to_dict(), TrainConfig().to_dict())
    model_path = store.run_folder(run_id) / "model.keras"
    tiny_model.save(model_path)
    store.update_run(run_id, status="done", model_path=str(model_path),
                     metrics={"test_accuracy": 0.5, "class_names": list(tiny_data.class_names)})

    at = open_page("pages/architecture.py")
    at.radio(key="arch_source").set_value("A finished run").run()

    assert not at.exception
    assert at.dataframe[0].value.iloc[-1]["Params"] == tiny_model.count_params()
    captions = [caption for image in at.get("image") for caption in image.captions]
    assert any(caption.startswith("conv1 · Conv2D · 26×26×8") for caption in captions)
    assert any(caption.startswith("pool1 · MaxPooling2D · 13×13×8") for caption in captions)
    assert "Grad-CAM on the last conv layer" in captions

    at.slider(key="fm_index").set_value(3).run()

    assert not at.exception
    assert metric(at, "Predicted") in tiny_data.class_names
