"""Formula lab: convolution, activations, pooling and dense computed step by step.

Every number comes from `lepton.ops`, whose tests check it against the Keras layers to 1e-5.
"""

import numpy as np
import pandas as pd
import streamlit as st

from lepton import diagrams, errata, ops
from lepton.ops import shape_text
from pages.common import language, t

ARTICLE_INPUT = np.array(errata.ARTICLE_EXAMPLE["input"], dtype=float)
ARTICLE_KERNEL = np.array(errata.ARTICLE_EXAMPLE["kernel"], dtype=float)
POOL_DEFAULT = np.array([[1, 3, 2, 1], [4, 6, 5, 0], [3, 1, 1, 2], [0, 2, 7, 3]], dtype=float)
ACTIVATION_DEFAULT = (-2.0, -0.5, 0.0, 1.0, 3.0)
DENSE_DEFAULT = {
    "inputs": np.array([1.0, 2.0, 3.0]),
    "weights": np.array([[0.5, -1.0], [0.25, 0.0], [1.0, 0.5]]),
    "bias": np.array([0.1, -0.2]),
}


# --- shared widgets -------------------------------------------------------------------------


def matrix_editor_ui(default: np.ndarray, key: str, label: str) -> np.ndarray:
    """An editable grid of numbers; empty cells come back as NaN (lepton.ops refuses them)."""
    default = np.atleast_2d(np.asarray(default, dtype=float))
    frame = pd.DataFrame(default, columns=[str(col) for col in range(default.shape[1])])
    columns = {name: st.column_config.NumberColumn(name, format="plain", width="small")
               for name in frame.columns}
    st.caption(label)
    edited = st.data_editor(frame, key=key, hide_index=True, num_rows="fixed",
                            column_config=columns)
    return edited.to_numpy(dtype=float)


def step_slider_ui(label: str, count: int, key: str) -> int:
    """A 1-based slider over the output cells; returns the 0-based step index."""
    if count == 1:
        st.caption(t("formula_lab.only_window", label=label))
        st.session_state.pop(key, None)
        return 0
    # A previous, larger configuration may have left the slider beyond the new end.
    if st.session_state.get(key, 1) > count:
        st.session_state[key] = count
    # No value argument: the default is the minimum, and a value would clash with the state
    # set above.
    return st.slider(t("formula_lab.step_slider", label=label, count=count), 1, count,
                     key=key) - 1


def geometry_ui(size: int, window: int, stride: int, padding: str, noun: str) -> dict | None:
    """The shape rule written out; None with an error when the combination is impossible.

    `noun` names the window in the chosen language ("kernel", "window").
    """
    try:
        geometry = diagrams.window_geometry(size, window, stride, padding)
    except ValueError as error:
        st.error(t("formula_lab.combination_refused", reason=str(error)),
                 icon=":material/block:")
        return None
    out = geometry["output"]
    if padding == "valid":
        st.latex(rf"o = \left\lfloor \frac{{n - k}}{{s}} \right\rfloor + 1 = "
                 rf"\left\lfloor \frac{{{size} - {window}}}{{{stride}}} \right\rfloor + 1 = {out}")
    else:
        st.latex(rf"o = \left\lceil \frac{{n}}{{s}} \right\rceil = "
                 rf"\left\lceil \frac{{{size}}}{{{stride}}} \right\rceil = {out}")
        total = geometry["pad_before"] + geometry["pad_after"]
        st.caption(t("formula_lab.same_padding_odd" if total % 2 else "formula_lab.same_padding",
                     total=total, before=geometry["pad_before"], after=geometry["pad_after"]))
    if geometry["uncovered"]:
        reasons = []
        if stride > window:
            reasons.append(t("formula_lab.reason_gaps", stride=stride, noun=noun, window=window))
        if geometry["trailing"]:
            reasons.append(t("formula_lab.reason_trailing", count=geometry["trailing"]))
        st.warning(t("formula_lab.uncovered_warning", uncovered=geometry["uncovered"], size=size,
                     noun=noun, reasons=t("formula_lab.and").join(reasons)),
                   icon=":material/warning:")
    return geometry


# --- convolution ----------------------------------------------------------------------------


def default_matrix(size: int) -> np.ndarray:
    """The article's 3×3 input at size 3, else 1, 2, 3, … row by row."""
    if size == ARTICLE_INPUT.shape[0]:
        return ARTICLE_INPUT
    return np.arange(1, size * size + 1, dtype=float).reshape(size, size)


def default_kernel(size: int) -> np.ndarray:
    """The article's 3×3 kernel at size 3, else a diagonal edge detector."""
    if size == ARTICLE_KERNEL.shape[0]:
        return ARTICLE_KERNEL
    return np.eye(size) - np.fliplr(np.eye(size)) * (size > 1)


def convolution_controls_ui() -> dict:
    size_column, kernel_column, stride_column, padding_column, bias_column = st.columns(5)
    return {
        "size": size_column.slider(t("formula_lab.input_size"), 3, 8, 3, key="conv_size"),
        "kernel_size": kernel_column.slider(t("formula_lab.kernel_size"), 1, 5, 3,
                                            key="conv_kernel_size"),
        "stride": stride_column.slider(t("formula_lab.stride"), 1, 3, 1, key="conv_stride"),
        "padding": padding_column.radio(t("formula_lab.padding"), ops.PADDINGS, index=1,
                                        key="conv_padding", horizontal=True),
        "bias": bias_column.number_input(t("formula_lab.bias"), value=0.0, step=0.5,
                                         key="conv_bias"),
    }


def convolution_ui() -> None:
    st.latex(r"y_{i,j} = b + \sum_{m=0}^{k-1} \sum_{n=0}^{k-1} "
             r"w_{m,n}\, x_{s i + m,\; s j + n}")
    settings = convolution_controls_ui()
    flip = st.toggle(t("formula_lab.true_convolution"), key="conv_flip")
    if flip:
        st.latex(r"(x \ast w)_{i,j} = b + \sum_{m}\sum_{n} "
                 r"w_{k-1-m,\;k-1-n}\, x_{s i + m,\; s j + n}")
    st.caption(t("formula_lab.cross_correlation_caption"))
    size, kernel_size = settings["size"], settings["kernel_size"]
    stride, padding = settings["stride"], settings["padding"]
    left, right = st.columns(2)
    with left:
        inputs = matrix_editor_ui(default_matrix(size), f"conv_input_{size}",
                                  t("formula_lab.input_editor", size=size))
    with right:
        kernel = matrix_editor_ui(default_kernel(kernel_size), f"conv_kernel_{kernel_size}",
                                  t("formula_lab.kernel_editor", size=kernel_size))
    geometry = geometry_ui(size, kernel_size, stride, padding, t("formula_lab.noun_kernel"))
    if geometry is None:
        return
    try:
        result = ops.conv2d(inputs, kernel, stride=stride, padding=padding,
                            bias=settings["bias"], flip_kernel=flip)
    except ValueError as error:
        st.error(t("formula_lab.cannot_compute", reason=str(error)), icon=":material/block:")
        return
    if flip and np.array_equal(kernel, kernel[::-1, ::-1]):
        st.info(t("formula_lab.flip_changes_nothing"), icon=":material/info:")
    out_rows, out_cols = result.output.shape
    st.metric(t("formula_lab.output_shape"), shape_text((out_rows, out_cols)),
              help=t("formula_lab.output_shape_help"))
    index = step_slider_ui(t("formula_lab.window_position"), len(result.steps), "conv_step")
    step = result.steps[index]
    pad = geometry["pad_before"]
    inner = (slice(pad, pad + size), slice(pad, pad + size))
    used_kernel = kernel[::-1, ::-1] if flip else kernel
    input_column, kernel_column, output_column = st.columns([3, 2, 2])
    input_column.plotly_chart(
        diagrams.matrix_figure(result.padded, t("formula_lab.figure_conv_input"),
                               highlight=step.window, inner=inner if pad or padding == "same"
                               else None, language=language()),
        key="conv_input_figure",
    )
    kernel_column.plotly_chart(
        diagrams.matrix_figure(used_kernel, t("formula_lab.figure_kernel_flipped" if flip
                                              else "formula_lab.figure_kernel"),
                               colorscale="Oranges", language=language()),
        key="conv_kernel_figure",
    )
    output_column.plotly_chart(
        diagrams.matrix_figure(diagrams.partial_output(result, index + 1),
                               t("formula_lab.figure_output", done=index + 1,
                                 total=len(result.steps)),
                               highlight=(slice(step.row, step.row + 1),
                                          slice(step.col, step.col + 1)),
                               colorscale="Greens", language=language()),
        key="conv_output_figure",
    )
    st.code(f"y[{step.row}, {step.col}] = {step.text}", language=None)


# --- activations ----------------------------------------------------------------------------


def activations_ui() -> None:
    formulas = st.columns(4)
    formulas[0].latex(r"\mathrm{ReLU}(x) = \max(0, x)")
    formulas[1].latex(r"\sigma(x) = \frac{1}{1 + e^{-x}}")
    formulas[2].latex(r"\tanh(x) = \frac{e^{x} - e^{-x}}{e^{x} + e^{-x}}")
    formulas[3].latex(r"\mathrm{softmax}(x)_i = \frac{e^{x_i}}{\sum_j e^{x_j}}")
    st.caption(t("formula_lab.relu_name_caption"))
    editor, values = st.columns([1, 3])
    with editor:
        frame = st.data_editor(
            pd.DataFrame({"x": ACTIVATION_DEFAULT}), key="activation_input", hide_index=True,
            num_rows="dynamic",
            column_config={"x": st.column_config.NumberColumn("x", format="plain")},
        )
    x_values = frame["x"].dropna().to_numpy(dtype=float)
    if x_values.size == 0:
        st.error(t("formula_lab.enter_a_number"), icon=":material/block:")
        return
    with values:
        table = pd.DataFrame({
            "x": x_values,
            "ReLU": ops.relu(x_values),
            "sigmoid": ops.sigmoid(x_values),
            "tanh": ops.tanh(x_values),
            "softmax": ops.softmax(x_values),
        })
        st.dataframe(table, hide_index=True, key="activation_table")
        st.caption(t("formula_lab.activation_table_caption",
                     total=ops.format_number(table["softmax"].sum())))
    curves, bars = st.columns(2)
    curves.plotly_chart(diagrams.activation_figure(x_values, language=language()),
                        key="activation_figure")
    bars.plotly_chart(diagrams.softmax_figure(x_values, language=language()),
                      key="softmax_figure")


# --- pooling --------------------------------------------------------------------------------


def pooling_ui() -> None:
    formulas = st.columns(2)
    formulas[0].latex(r"y^{\max}_{i,j} = \max_{(m,n) \in W_{i,j}} x_{m,n}")
    formulas[1].latex(r"y^{\mathrm{avg}}_{i,j} = \frac{1}{|W_{i,j}|} "
                      r"\sum_{(m,n) \in W_{i,j}} x_{m,n}")
    size_column, window_column, stride_column, padding_column = st.columns(4)
    size = size_column.slider(t("formula_lab.input_size"), 2, 8, 4, key="pool_size")
    window = window_column.slider(t("formula_lab.window_k"), 1, 4, 2, key="pool_window")
    stride = stride_column.slider(t("formula_lab.stride"), 1, 4, 2, key="pool_stride")
    padding = padding_column.radio(t("formula_lab.padding"), ops.PADDINGS, key="pool_padding",
                                   horizontal=True)
    default = POOL_DEFAULT if size == POOL_DEFAULT.shape[0] else default_matrix(size)
    editor, formula = st.columns([1, 1])
    with editor:
        inputs = matrix_editor_ui(default, f"pool_input_{size}",
                                  t("formula_lab.pool_input_editor", size=size))
    with formula:
        geometry = geometry_ui(size, window, stride, padding, t("formula_lab.noun_window"))
        st.caption(t("formula_lab.pool_window_caption"))
    if geometry is None:
        return
    try:
        results = {"max": ops.max_pool(inputs, window, stride, padding),
                   "average": ops.average_pool(inputs, window, stride, padding)}
    except ValueError as error:
        st.error(t("formula_lab.cannot_compute", reason=str(error)), icon=":material/block:")
        return
    rows, cols = results["max"].output.shape
    st.metric(t("formula_lab.pooled_shape"), shape_text((rows, cols)))
    index = step_slider_ui(t("formula_lab.window"), len(results["max"].steps), "pool_step")
    step = results["max"].steps[index]
    pad = geometry["pad_before"]
    inner = (slice(pad, pad + size), slice(pad, pad + size)) if padding == "same" else None
    input_column, max_column, average_column = st.columns(3)
    input_column.plotly_chart(
        diagrams.matrix_figure(results["max"].padded, t("formula_lab.figure_pool_input"),
                               highlight=step.window, inner=inner, language=language()),
        key="pool_input_figure",
    )
    cell = (slice(step.row, step.row + 1), slice(step.col, step.col + 1))
    for column, (kind, result) in zip((max_column, average_column), results.items()):
        column.plotly_chart(
            diagrams.matrix_figure(diagrams.partial_output(result, index + 1),
                                   t(f"formula_lab.figure_{kind}_pool"), highlight=cell,
                                   colorscale="Greens", language=language()),
            key=f"pool_{kind}_figure",
        )
    st.code(f"max[{step.row}, {step.col}] = {step.text}\n"
            f"avg[{step.row}, {step.col}] = {results['average'].steps[index].text}",
            language=None)


# --- dense ----------------------------------------------------------------------------------


def dense_ui() -> None:
    st.latex(r"y_j = b_j + \sum_{i=1}^{n} x_i\, w_{i,j}")
    count_column, unit_column = st.columns(2)
    count = count_column.slider(t("formula_lab.inputs_n"), 1, 6, 3, key="dense_inputs")
    units = unit_column.slider(t("formula_lab.units_m"), 1, 4, 2, key="dense_units")
    same_shape = count == 3 and units == 2
    inputs_default = DENSE_DEFAULT["inputs"] if count == 3 else np.arange(1.0, count + 1)
    weights_default = DENSE_DEFAULT["weights"] if same_shape else np.full((count, units), 0.5)
    bias_default = DENSE_DEFAULT["bias"] if units == 2 else np.zeros(units)
    inputs_column, weights_column, bias_column = st.columns([2, 2, 2])
    with inputs_column:
        inputs = matrix_editor_ui(inputs_default[np.newaxis, :], f"dense_x_{count}",
                                  t("formula_lab.dense_inputs_editor"))
    with weights_column:
        weights = matrix_editor_ui(weights_default, f"dense_w_{count}_{units}",
                                   t("formula_lab.dense_weights_editor"))
    with bias_column:
        bias = matrix_editor_ui(bias_default[np.newaxis, :], f"dense_b_{units}",
                                t("formula_lab.bias"))
    try:
        result = ops.dense(inputs.ravel(), weights, bias.ravel())
    except ValueError as error:
        st.error(t("formula_lab.cannot_compute", reason=str(error)), icon=":material/block:")
        return
    st.code("\n".join(f"y[{step.col}] = {step.text}" for step in result.steps), language=None)
    st.dataframe(pd.DataFrame({"unit j": range(units), "y_j": result.output}), hide_index=True,
                 key="dense_output",
                 column_config={"unit j": st.column_config.NumberColumn(t("formula_lab.unit_j"))})
    st.caption(t("formula_lab.dense_caption"))


# --- the article's example and its errata ---------------------------------------------------


def errata_ui() -> None:
    st.markdown(t("formula_lab.worked_example_heading"))
    valid = ops.conv2d(ARTICLE_INPUT, ARTICLE_KERNEL, padding="valid")
    same = ops.conv2d(ARTICLE_INPUT, ARTICLE_KERNEL, padding="same")
    printed = np.array(errata.ARTICLE_EXAMPLE["article_printed_conv"], dtype=float)
    figures = st.columns(5)
    shown = (  # (values, name: chart key and catalogue title, colours)
        (ARTICLE_INPUT, "input", "Blues"),
        (ARTICLE_KERNEL, "kernel", "Oranges"),
        (valid.output, "valid", "Greens"),
        (same.output, "same", "Greens"),
        (printed, "printed", "Reds"),
    )
    for column, (values, name, colours) in zip(figures, shown):
        column.plotly_chart(diagrams.matrix_figure(values, t(f"formula_lab.errata_figure_{name}"),
                                                   colorscale=colours, language=language()),
                            key=f"errata_{name}")
    st.markdown(t("formula_lab.errata_heading"))
    for erratum in errata.article_errata(language=language()):
        with st.container(border=True):
            st.error(t("formula_lab.erratum_claim", text=erratum["claim"]),
                     icon=":material/report:")
            st.success(t("formula_lab.erratum_correct", text=erratum["correct"]),
                       icon=":material/check_circle:")
            st.markdown(t("formula_lab.erratum_why", text=erratum["why"]))
    with st.container(border=True):
        st.error(t("formula_lab.formula_erratum_claim",
                   formula=r"$\text{output}_{ij} = \sum_{k=1}^{K} w_{ik} \times "
                           r"\text{input}_{ij} + b_{k}$"),
                 icon=":material/report:")
        st.success(t("formula_lab.formula_erratum_correct",
                     formula=r"$y_{i,j} = b + \sum_{m}\sum_{n} w_{m,n}\, x_{i+m,\,j+n}$"),
                   icon=":material/check_circle:")
        st.markdown(t("formula_lab.formula_erratum_why"))


st.title(t("formula_lab.title"))
st.caption(t("formula_lab.caption"))
convolution_tab, activations_tab, pooling_tab, dense_tab, errata_tab = st.tabs(
    [t("formula_lab.tab_convolution"), t("formula_lab.tab_activations"),
     t("formula_lab.tab_pooling"), t("formula_lab.tab_dense"), t("formula_lab.tab_errata")]
)
with convolution_tab:
    convolution_ui()
with activations_tab:
    activations_ui()
with pooling_tab:
    pooling_ui()
with dense_tab:
    dense_ui()
with errata_tab:
    errata_ui()
