"""lepton.network_view: the pages' view of the real model, built where Keras is loaded."""

import os

from lepton.model import ModelConfig, build_model, layer_table
from lepton.network_view import describe, file_version
from tests.conftest import SMALL_MODEL


def test_a_configuration_is_described_as_its_built_model():
    view = describe(ModelConfig(), "en")
    model = build_model(ModelConfig())
    assert view["layers"] == layer_table(model)
    assert view["input_shape"] == (28, 28, 1)
    assert view["params"] == model.count_params() == 225_034  # the article's network
    assert view["macs"] == sum(row["macs"] for row in view["layers"])
    assert view["weights_bytes"] == 4 * view["params"]
    assert all(f'"{row["name"]}"' in view["dot"] for row in view["layers"])


def test_a_model_file_is_described_and_a_profile_drawn_on_its_nodes(tmp_path):
    path = tmp_path / "model.keras"
    build_model(SMALL_MODEL).save(path)
    first_layer = layer_table(build_model(SMALL_MODEL))[0]["name"]
    view = describe(str(path), "zh", ((first_layer, 12.5),), file_version(str(path)))
    assert view["params"] == build_model(SMALL_MODEL).count_params()
    assert "12.5" in view["dot"] and "参数" in view["dot"]  # the time, and Chinese words


def test_file_version_is_zero_for_a_missing_file_and_moves_with_a_rewrite(tmp_path):
    path = tmp_path / "model.keras"
    assert file_version(str(path)) == 0
    path.write_bytes(b"one")
    before = file_version(str(path))
    path.write_bytes(b"two, longer")
    os.utime(path, ns=(before + 10**9, before + 10**9))
    assert file_version(str(path)) == before + 10**9 > 0
