"""Diagrams: Graphviz DOT of a real Keras model and of the article's flows, and the Plotly
figures of the formula lab (matrices with highlighted windows, activation curves).

DOT text needs no Graphviz install: Streamlit's `st.graphviz_chart` renders it in the browser.
No Streamlit here; the pages decide where the diagrams go.
"""

from __future__ import annotations

import numpy as np
import plotly.graph_objects as go

from lepton import ops
from lepton.i18n import DEFAULT_LANGUAGE, translate
from lepton.model import layer_table
from lepton.ops import shape_text

# Fill colours by layer type, light enough for black text.
LAYER_COLOURS = {
    "Input": "#e8e8e8",
    "Conv2D": "#cfe0fb",
    "MaxPooling2D": "#d5f0d5",
    "AveragePooling2D": "#d5f0d5",
    "Flatten": "#f3e6c8",
    "Dense": "#fbd9c4",
    "Dropout": "#ececec",
}

# The article's four Mermaid flow charts (figures 1 to 4), labelled in English with the
# article's own Chinese words in parentheses. Keys name the titles in the "diagrams" catalogue.
ARTICLE_FLOWS = {
    "flow_layer_stack": (
        ("Input layer", "输入层"),
        ("Convolutional layer", "卷积层"),
        ("Pooling layer", "池化层"),
        ("Fully connected layer", "全连接层"),
        ("Output layer", "输出层"),
    ),
    "flow_single_point": (
        ("Input data", "输入数据"),
        ("Single-node compute", "单点计算"),
        ("Output result", "输出结果"),
    ),
    "flow_pipeline": (
        ("Input data", "输入数据"),
        ("Data preprocessing", "数据预处理"),
        ("Single-node compute", "单点计算"),
        ("Model inference", "模型推理"),
        ("Result post-processing", "结果后处理"),
    ),
    "flow_algorithm": (
        ("Input image", "输入图像"),
        ("Convolutional layer", "卷积层"),
        ("Activation function", "激活函数"),
        ("Pooling layer", "池化层"),
        ("Fully connected layer", "全连接层"),
        ("Output result", "输出结果"),
    ),
}

_GRAPH_ATTRIBUTES = (
    '  graph [rankdir=TB, nodesep=0.25, ranksep=0.3, bgcolor="transparent"];\n'
    '  node [shape=box, style="rounded,filled", fontname="Helvetica", fontsize=11, '
    'fillcolor="#f4f4f4", color="#777777"];\n'
    '  edge [color="#777777", arrowsize=0.7];\n'
)


# --- Graphviz DOT ---------------------------------------------------------------------------


def network_dot(model, language: str = DEFAULT_LANGUAGE,
                microseconds: dict[str, float] | None = None) -> str:
    """A top-down DOT diagram of `model`: the input, then one node per layer in `model.layers`.

    Each node's id is the layer's name; its label gives name and type, what the layer does
    (kernel, units, activation), its output shape per image and its parameter count, all read
    from the built layers, so the diagram is `model.summary()` drawn. `language` ("en", "zh")
    is that of the descriptive words; names, types and numbers stay as Keras reports them.
    `microseconds` (layer name → one image's time, from `lepton.profiling`) adds each
    layer's measured time to its node.
    """
    input_tensor = model.inputs[0]
    input_name = getattr(input_tensor, "name", None) or "input"
    lines = ["digraph network {", _GRAPH_ATTRIBUTES.rstrip("\n")]
    input_label = (f"{input_name} · Input\n{shape_text(input_tensor.shape[1:])}\n"
                   + translate("diagrams.params", language, count="0"))
    lines.append(_node(input_name, input_label, LAYER_COLOURS["Input"]))
    previous = input_name
    for layer, row in zip(model.layers, layer_table(model), strict=True):
        detail = _layer_detail(layer, language)
        label = "\n".join(
            part for part in (
                f"{row['name']} · {row['type']}",
                detail,
                f"→ {shape_text(row['output_shape'])}",
                translate("diagrams.params", language, count=f"{row['params']:,}"),
                translate("diagrams.measured_time", language,
                          microseconds=f"{microseconds[row['name']]:.1f}")
                if microseconds and row["name"] in microseconds else "",
            ) if part
        )
        lines.append(_node(row["name"], label, LAYER_COLOURS.get(row["type"], "#f4f4f4")))
        lines.append(f"  {_quote(previous)} -> {_quote(row['name'])};")
        previous = row["name"]
    lines.append("}")
    return "\n".join(lines)


def article_flow_dots(language: str = DEFAULT_LANGUAGE) -> dict[str, str]:
    """The article's four flow charts as DOT, by title (in `language`), top-down as the article
    draws them. The node labels are bilingual in every language: English, then the article's
    own Chinese words."""
    dots = {}
    for name, steps in ARTICLE_FLOWS.items():
        title = translate(f"diagrams.{name}", language)
        lines = [f"digraph {_quote(name)} {{", _GRAPH_ATTRIBUTES.rstrip("\n")]
        for index, (english, chinese) in enumerate(steps):
            lines.append(_node(f"step{index}", f"{english}\n({chinese})", "#eef3fb"))
        for index in range(1, len(steps)):
            lines.append(f"  {_quote(f'step{index - 1}')} -> {_quote(f'step{index}')};")
        lines.append("}")
        dots[title] = "\n".join(lines)
    return dots


def _layer_detail(layer, language: str = DEFAULT_LANGUAGE) -> str:
    kind = type(layer).__name__
    activation = getattr(getattr(layer, "activation", None), "__name__", "")
    activation_text = (translate("diagrams.activation_suffix", language, activation=activation)
                       if activation and activation != "linear" else "")
    if kind == "Conv2D":
        stride = ("" if tuple(layer.strides) == (1, 1) else
                  translate("diagrams.stride_suffix", language, stride=shape_text(layer.strides)))
        return translate("diagrams.conv_detail", language, kernel=shape_text(layer.kernel_size),
                         filters=layer.filters, padding=layer.padding, stride=stride,
                         activation=activation_text)
    if kind in ("MaxPooling2D", "AveragePooling2D"):
        return translate("diagrams.pool_detail", language, window=shape_text(layer.pool_size),
                         stride=shape_text(layer.strides))
    if kind == "Dense":
        return translate("diagrams.dense_detail", language, units=layer.units,
                         activation=activation_text)
    if kind == "Dropout":
        return translate("diagrams.dropout_detail", language, rate=f"{layer.rate:g}")
    return ""


def _quote(text: str) -> str:
    return '"' + str(text).replace("\\", "\\\\").replace('"', '\\"') + '"'


def _node(node_id: str, label: str, colour: str) -> str:
    # DOT strings take \n as a line break; real newlines would also work but split lines here.
    escaped = str(label).replace("\\", "\\\\").replace('"', '\\"').replace("\n", "\\n")
    return f'  {_quote(node_id)} [label="{escaped}", fillcolor="{colour}"];'


# --- formula-lab figures --------------------------------------------------------------------


def window_geometry(size: int, window: int, stride: int, padding: str) -> dict:
    """How a sliding window covers one axis, as Keras (TensorFlow) lays it out.

    Returns:
        {"output": windows along the axis, "pad_before", "pad_after": padded cells (TF puts
        the odd one after), "uncovered": input cells that no window reaches (gaps when the
        stride exceeds the window, plus cells left over at the end), "trailing": how many of
        those are at the end}.

    Raises:
        ValueError: for an impossible combination (see `lepton.ops.output_size`).
    """
    output = ops.output_size(size, window, stride, padding)
    total = max((output - 1) * stride + window - size, 0) if padding == "same" else 0
    before = total // 2
    covered = np.zeros(size + total, dtype=bool)
    for start in range(0, output * stride, stride):
        covered[start:start + window] = True
    real = covered[before:before + size]
    reached = (output - 1) * stride + window - before  # input cells up to the last window's end
    return {
        "output": output,
        "pad_before": before,
        "pad_after": total - before,
        "uncovered": int((~real).sum()),
        "trailing": max(size - reached, 0),
    }


def partial_output(result: ops.Result, count: int) -> np.ndarray:
    """The result's output with only its first `count` steps filled in; later cells are NaN."""
    output = np.full(np.shape(result.output), np.nan)
    if output.ndim == 1:  # dense: one row of units
        output = output[np.newaxis, :]
    for step in result.steps[:count]:
        output[step.row, step.col] = step.value
    return output


def matrix_figure(
    values,
    title: str = "",
    highlight: tuple[slice, slice] | None = None,
    inner: tuple[slice, slice] | None = None,
    colorscale: str = "Blues",
    height: int | None = None,
    language: str = DEFAULT_LANGUAGE,
) -> go.Figure:
    """A matrix as a heatmap with each value written in its cell.

    Args:
        values: 2-D array; NaN cells are left blank (not computed yet, or padding of a pool).
        highlight: (rows, cols) slices of the window to outline in red.
        inner: (rows, cols) slices of the real input inside a padded one, outlined dashed.
        height: figure height in pixels; by default about 48 px per row.
        language: of the hover text ("en", "zh"); the title comes translated from the caller.
    """
    values = np.asarray(values, dtype=float)
    if values.ndim == 1:
        values = values[np.newaxis, :]
    rows, cols = values.shape
    text = [["" if np.isnan(value) else ops.format_number(value) for value in row]
            for row in values]
    figure = go.Figure()
    if np.isnan(values).any():
        # Pale cells under the blanks keep the matrix's shape visible.
        figure.add_heatmap(
            z=np.zeros_like(values), colorscale=[[0, "#eef0f4"], [1, "#eef0f4"]],
            showscale=False, xgap=2, ygap=2, hoverinfo="skip",
        )
    figure.add_heatmap(
        z=values, text=text, texttemplate="%{text}", textfont={"size": 14},
        colorscale=colorscale, showscale=False, xgap=2, ygap=2,
        hovertemplate=translate("diagrams.matrix_hover", language, row="%{y}", col="%{x}",
                                value="%{text}") + "<extra></extra>",
    )
    if inner is not None:
        figure.add_shape(_rectangle(inner, color="#555555", dash="dash", width=2))
    if highlight is not None:
        figure.add_shape(_rectangle(highlight, color="#d62728", width=4))
    figure.update_layout(
        title={"text": title, "font": {"size": 14}},
        height=height or 70 + 48 * rows,
        margin={"l": 10, "r": 10, "t": 36 if title else 10, "b": 10},
        xaxis={"showticklabels": False, "showgrid": False, "zeroline": False, "ticks": "",
               "range": [-0.6, cols - 0.4], "constrain": "domain"},
        yaxis={"showticklabels": False, "showgrid": False, "zeroline": False, "ticks": "",
               "range": [rows - 0.4, -0.6], "scaleanchor": "x", "constrain": "domain"},
        plot_bgcolor="rgba(0,0,0,0)",
    )
    return figure


def _rectangle(window: tuple[slice, slice], color: str, width: int, dash: str = "solid") -> dict:
    rows, cols = window
    return {
        "type": "rect", "xref": "x", "yref": "y",
        "x0": cols.start - 0.5, "x1": cols.stop - 0.5,
        "y0": rows.start - 0.5, "y1": rows.stop - 0.5,
        "line": {"color": color, "width": width, "dash": dash},
    }


def activation_figure(x_values, language: str = DEFAULT_LANGUAGE) -> go.Figure:
    """ReLU, sigmoid and tanh as curves, with the given inputs marked on each."""
    x_values = np.asarray(x_values, dtype=float).ravel()
    low = min(-4.0, float(x_values.min()) - 1) if x_values.size else -4.0
    high = max(4.0, float(x_values.max()) + 1) if x_values.size else 4.0
    grid = np.linspace(low, high, 401)
    figure = go.Figure()
    functions = {"ReLU": ops.relu, "sigmoid": ops.sigmoid, "tanh": ops.tanh}
    colours = {"ReLU": "#1f77b4", "sigmoid": "#2ca02c", "tanh": "#ff7f0e"}
    for name, function in functions.items():
        figure.add_scatter(x=grid, y=function(grid), mode="lines", name=name,
                           line={"color": colours[name]})
        if x_values.size:
            figure.add_scatter(
                x=x_values, y=function(x_values), mode="markers",
                name=translate("diagrams.your_x", language, name=name),
                marker={"color": colours[name], "size": 9}, showlegend=False,
                hovertemplate=f"{name}(%{{x:.3g}}) = %{{y:.4g}}<extra></extra>",
            )
    figure.update_layout(
        title=translate("diagrams.activation_title", language), xaxis_title="x",
        yaxis_title="f(x)", height=360,
        margin={"l": 10, "r": 10, "t": 40, "b": 10}, hovermode="closest",
        yaxis={"range": [-1.2, max(1.2, min(high, 6.0))]},
    )
    return figure


def softmax_figure(x_values, language: str = DEFAULT_LANGUAGE) -> go.Figure:
    """softmax(x) of the whole vector as bars: positive values adding up to 1."""
    x_values = np.asarray(x_values, dtype=float).ravel()
    probabilities = ops.softmax(x_values)
    labels = [f"x{index + 1} = {ops.format_number(value)}" for index, value in enumerate(x_values)]
    figure = go.Figure(
        go.Bar(x=labels, y=probabilities, text=[f"{p:.3f}" for p in probabilities],
               textposition="outside", marker_color="#9467bd")
    )
    figure.update_layout(
        title=translate("diagrams.softmax_title", language), yaxis={"range": [0, 1.1]},
        height=360, margin={"l": 10, "r": 10, "t": 40, "b": 10},
    )
    return figure
