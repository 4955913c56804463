"""lepton.diagrams: the network diagram is model.summary() drawn; the DOT is well formed; the
formula-lab helpers agree with lepton.ops."""

import itertools
import re

import numpy as np
import pytest

from lepton import diagrams, ops
from lepton.model import ModelConfig, build_model
from lepton.ops import shape_text

CONFIGS = {
    "reference": ModelConfig(),
    "three-blocks-avg-dropout": ModelConfig(filters=(16, 32, 64), pooling="avg",
                                            dense_units=64, dropout_rate=0.3),
    "one-block-kernel-5": ModelConfig(filters=(8,), kernel_size=5, dense_units=16,
                                      activation="tanh"),
}
QUOTED = r'"((?:[^"\\]|\\.)*)"'  # a DOT string, escapes allowed
NODE = re.compile(rf'^\s*{QUOTED} \[label={QUOTED}, fillcolor="#[0-9a-f]{{6}}"\];$')
EDGE = re.compile(rf"^\s*{QUOTED} -> {QUOTED};$")
SUMMARY_ROW = re.compile(r"│ (\w+) \((\w+)\)\s*│ \(None, ([\d, ]+)\)\s*│\s*([\d,]+) │")


def parse_dot(dot: str) -> dict:
    """Nodes (id → label lines) and edges of our DOT; fails on any line it does not expect."""
    lines = dot.splitlines()
    assert re.match(r'^digraph ("(?:[^"\\]|\\.)*"|\w+) \{$', lines[0]), lines[0]
    assert lines[-1] == "}"
    nodes, edges = {}, []
    for line in lines[1:-1]:
        if node := NODE.match(line):
            assert node[1] not in nodes, f"node {node[1]} declared twice"
            nodes[node[1]] = node[2].split("\\n")
        elif edge := EDGE.match(line):
            edges.append((edge[1], edge[2]))
        else:
            assert re.match(r"^\s*(graph|node|edge) \[.*\];$", line), f"unexpected line: {line}"
    for source, target in edges:
        assert source in nodes and target in nodes, f"edge {source} -> {target} to no node"
    return {"nodes": nodes, "edges": edges}


def summary_rows(model) -> dict:
    """layer name → (type, output shape, params) as `model.summary()` prints them."""
    lines = []
    model.summary(print_fn=lambda line, **kwargs: lines.append(line))
    rows = SUMMARY_ROW.findall("\n".join(lines))
    return {
        name: (kind, tuple(int(size) for size in shape.split(",")), int(params.replace(",", "")))
        for name, kind, shape, params in rows
    }


@pytest.mark.parametrize("config", CONFIGS.values(), ids=CONFIGS.keys())
def test_network_dot_is_model_summary_drawn(config):
    model = build_model(config)
    graph = parse_dot(diagrams.network_dot(model))

    expected = summary_rows(model)
    assert list(expected) == [layer.name for layer in model.layers]
    assert list(graph["nodes"]) == ["image", *expected]
    for name, (kind, shape, params) in expected.items():
        label = graph["nodes"][name]
        assert label[0] == f"{name} · {kind}"
        assert f"→ {shape_text(shape)}" in label
        assert label[-1] == f"{params:,} params"
    assert graph["nodes"]["image"][1] == shape_text(config.input_shape)
    chain = list(graph["nodes"])
    assert graph["edges"] == list(itertools.pairwise(chain))


def test_network_dot_names_the_kernel_units_and_activation():
    labels = parse_dot(diagrams.network_dot(build_model(CONFIGS["one-block-kernel-5"])))["nodes"]

    assert labels["conv1"][1] == "5×5 kernel, 8 filters, valid, tanh"
    assert labels["pool1"][1] == "2×2 window, stride 2×2"
    assert labels["dense"][1] == "16 units, tanh"
    assert labels["output"][1] == "10 units, softmax"


def test_reference_network_has_the_articles_225034_parameters():
    labels = parse_dot(diagrams.network_dot(build_model()))["nodes"]

    total = sum(int(label[-1].split()[0].replace(",", "")) for label in labels.values())
    assert total == 225_034


def test_article_flows_are_the_four_figures_with_the_articles_words():
    dots = diagrams.article_flow_dots()

    assert len(dots) == 4
    graphs = [parse_dot(dot) for dot in dots.values()]
    assert [len(graph["nodes"]) for graph in graphs] == [5, 3, 5, 6]
    first = [label for label in graphs[0]["nodes"].values()]
    assert first[1] == ["Convolutional layer", "(卷积层)"]
    for graph in graphs:
        for english, chinese in graph["nodes"].values():
            assert re.fullmatch(r"[A-Za-z -]+", english)
            assert re.fullmatch(r"\([\u4e00-\u9fff]+\)", chinese)
        ids = list(graph["nodes"])
        assert graph["edges"] == list(itertools.pairwise(ids))


def test_quotes_in_names_stay_valid_dot():
    dot = diagrams._node('a "b"', 'say "hi"\nback\\slash', "#ffffff")

    assert NODE.match(dot)


# --- formula-lab helpers --------------------------------------------------------------------


@pytest.mark.parametrize(
    ("size", "window", "stride", "padding"),
    list(itertools.product((3, 5, 6, 7, 8), (1, 2, 3), (1, 2, 3), ops.PADDINGS)),
)
def test_window_geometry_agrees_with_ops(size, window, stride, padding):
    image = np.arange(size * size, dtype=float).reshape(size, size) + 1
    geometry = diagrams.window_geometry(size, window, stride, padding)
    result = ops.conv2d(image, np.ones((window, window)), stride=stride, padding=padding)

    assert result.output.shape == (geometry["output"],) * 2
    before, after = geometry["pad_before"], geometry["pad_after"]
    assert result.padded.shape == (size + before + after,) * 2
    np.testing.assert_array_equal(result.padded[before:before + size, before:before + size], image)
    covered = np.zeros(result.padded.shape[0], dtype=bool)
    for step in result.steps:
        covered[step.window[0]] = True
    real = covered[before:before + size]
    assert geometry["uncovered"] == int((~real).sum())
    trailing = size - (np.flatnonzero(real)[-1] + 1)
    assert geometry["trailing"] == trailing


def test_window_geometry_counts_gaps_and_dropped_cells():
    # Windows at 0-1 and 3-4 of 6 cells: cell 2 is a gap, cell 5 is dropped at the end.
    assert diagrams.window_geometry(6, 2, 3, "valid") == {
        "output": 2, "pad_before": 0, "pad_after": 0, "uncovered": 2, "trailing": 1,
    }


def test_window_geometry_refuses_a_window_larger_than_the_input():
    with pytest.raises(ValueError, match="padding='same'"):
        diagrams.window_geometry(3, 5, 1, "valid")


def test_partial_output_fills_cells_in_step_order():
    result = ops.conv2d(np.arange(16.0).reshape(4, 4), np.ones((2, 2)), padding="valid")

    assert np.isnan(diagrams.partial_output(result, 0)).all()
    partial = diagrams.partial_output(result, 4)
    np.testing.assert_array_equal(partial[0], result.output[0])
    assert partial[1, 0] == result.output[1, 0] and np.isnan(partial[1, 1:]).all()
    np.testing.assert_array_equal(diagrams.partial_output(result, len(result.steps)),
                                  result.output)


def test_partial_output_of_dense_is_one_row():
    result = ops.dense([1.0, 2.0], [[1.0, 0.0, 2.0], [0.5, 1.0, 0.0]], [0.0, 0.0, 1.0])

    np.testing.assert_array_equal(diagrams.partial_output(result, 3), [result.output])


def test_matrix_figure_outlines_the_window_and_leaves_nan_blank():
    values = np.array([[1.0, 2.5], [np.nan, 4.0]])
    figure = diagrams.matrix_figure(values, "t", highlight=(slice(0, 1), slice(1, 2)))

    values_trace = figure.data[-1]  # over a pale underlay that keeps blank cells visible
    assert len(figure.data) == 2
    assert values_trace.text[1][0] == "" and values_trace.text[0][1] == "2.5"
    outline = figure.layout.shapes[0]
    assert (outline.x0, outline.x1, outline.y0, outline.y1) == (0.5, 1.5, -0.5, 0.5)


def test_activation_and_softmax_figures_plot_ops_values():
    x = np.array([-2.0, 0.0, 3.0])

    curves = diagrams.activation_figure(x)
    markers = {trace.name: trace for trace in curves.data if trace.mode == "markers"}
    np.testing.assert_allclose(markers["ReLU(your x)"].y, ops.relu(x))
    np.testing.assert_allclose(markers["sigmoid(your x)"].y, ops.sigmoid(x))
    bars = diagrams.softmax_figure(x)
    np.testing.assert_allclose(bars.data[0].y, ops.softmax(x))
    assert bars.data[0].y.sum() == pytest.approx(1.0)
