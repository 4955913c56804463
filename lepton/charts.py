"""Plotly figures of runs (no Streamlit here: pages decide where figures go).

Every figure function takes `language` ("en" or "zh"): titles, axis titles, legend names and
hover texts come from the "charts" section of the message catalogues.
"""

from __future__ import annotations

import statistics

import plotly.graph_objects as go

from lepton.curves import downsample, per_batch_values, smooth
from lepton.i18n import DEFAULT_LANGUAGE, catalogue, translate

HOVER_LAYOUT = dict(hovermode="x unified", margin=dict(l=10, r=10, t=40, b=10), height=320)


def _text(key: str, language: str, **values) -> str:
    """The message "charts.<key>", always run through `str.format`.

    Plotly hover templates contain braces (`%{y}`), written doubled in the catalogue; formatting
    even without values turns them back into single braces.
    """
    return translate(f"charts.{key}", language).format(**values)


def _metric_name(metric: str, language: str) -> str:
    """"loss" or "accuracy" in `language`; a metric without a message keeps its own name."""
    key = f"charts.metric_{metric}"
    return translate(key, language) if key in catalogue(DEFAULT_LANGUAGE) else metric


def _epoch_axis(language: str) -> dict:
    return dict(title=_text("epoch", language), dtick=1)


MAX_POINTS = 400  # per trace: beyond this a browser redraws for nothing the eye can see


def batch_curve(batches: list[dict], batch_size: int, samples_per_epoch: int,
                steps_per_epoch: int | None = None, smoothing: float = 0.6,
                max_points: int = MAX_POINTS,
                language: str = DEFAULT_LANGUAGE) -> go.Figure:
    """Training loss and accuracy of each batch (derived from Keras' running means) against the
    global step: raw values faint, TensorBoard-style smoothed values solid.

    Each point is one batch, or one execution of `steps_per_execution` batches; at most
    `max_points` evenly spread points are drawn per trace (smoothing uses them all).
    """
    values = per_batch_values(batches, batch_size, samples_per_epoch)
    steps = steps_per_epoch or max((row["step"] for row in batches), default=1)
    keep = downsample(len(values), max_points)
    x = [(values[index]["epoch"] - 1) * steps + values[index]["step"] for index in keep]
    figure = go.Figure()
    for metric, axis, colour in (("loss", "y", "#1f77b4"), ("accuracy", "y2", "#ff7f0e")):
        raw = [row[metric] for row in values]
        smoothed = smooth(raw, smoothing)
        name = _metric_name(metric, language)
        figure.add_scatter(x=x, y=[raw[index] for index in keep], mode="lines", yaxis=axis,
                           name=_text("trace_raw", language, metric=name),
                           line=dict(color=colour, width=1), opacity=0.3)
        figure.add_scatter(x=x, y=[smoothed[index] for index in keep], mode="lines", yaxis=axis,
                           name=_text("trace_smoothed", language, metric=name),
                           line=dict(color=colour, width=2))
    loss, accuracy = _metric_name("loss", language), _metric_name("accuracy", language)
    figure.update_layout(
        title=_text("batch_title", language, smoothing=f"{smoothing:g}"),
        xaxis_title=_text("step", language),
        yaxis=dict(title=loss),
        yaxis2=dict(title=accuracy, overlaying="y", side="right", range=[0, 1],
                    tickmode="auto", tickformat=".0%", showgrid=False),
        legend=dict(orientation="h", yanchor="top", y=-0.2),
        **{**HOVER_LAYOUT, "height": 360},
    )
    return figure


def epoch_curves(epochs: list[dict], metric: str = "loss", name: str = "",
                 language: str = DEFAULT_LANGUAGE) -> go.Figure:
    """Training and validation `metric` per epoch."""
    figure = go.Figure()
    add_epoch_traces(figure, epochs, metric, name, language=language)
    _per_epoch_layout(figure, metric, language)
    return figure


def _per_epoch_layout(figure: go.Figure, metric: str, language: str) -> None:
    metric_name = _metric_name(metric, language)
    figure.update_layout(title=_text("per_epoch_title", language,
                                     metric=metric_name.capitalize()),
                         xaxis=_epoch_axis(language), yaxis_title=metric_name, **HOVER_LAYOUT)


def add_epoch_traces(figure: go.Figure, epochs: list[dict], metric: str, name: str = "",
                     language: str = DEFAULT_LANGUAGE) -> None:
    prefix = f"{name} " if name else ""
    x = [row["epoch"] for row in epochs]
    figure.add_scatter(x=x, y=[row[metric] for row in epochs],
                       name=_text("trace_train", language, prefix=prefix), mode="lines+markers")
    if any(row.get(f"val_{metric}") is not None for row in epochs):
        figure.add_scatter(x=x, y=[row[f"val_{metric}"] for row in epochs],
                           name=_text("trace_validation", language, prefix=prefix),
                           mode="lines+markers", line=dict(dash="dash"))


def throughput_curve(epochs: list[dict], language: str = DEFAULT_LANGUAGE) -> go.Figure:
    """Training samples per second, epoch by epoch; the first epoch, which also traces the
    graph, drawn apart and left out of the steady-state line."""
    samples_per_second = _text("samples_per_second", language)
    figure = go.Figure()
    first, later = epochs[:1], epochs[1:]
    figure.add_bar(x=[row["epoch"] for row in first],
                   y=[row["samples_per_second"] for row in first],
                   name=_text("first_epoch", language), marker_color="#c7c7c7")
    figure.add_bar(x=[row["epoch"] for row in later],
                   y=[row["samples_per_second"] for row in later],
                   name=samples_per_second, marker_color="#1f77b4")
    if later:
        steady = statistics.median(row["samples_per_second"] for row in later)
        figure.add_hline(y=steady, line_dash="dot",
                         annotation_text=_text("steady_state", language, value=f"{steady:,.0f}"))
    figure.update_layout(title=_text("throughput_title", language),
                         xaxis=_epoch_axis(language), yaxis_title=samples_per_second,
                         **HOVER_LAYOUT)
    return figure


def probability_bars(top: list[dict], language: str = DEFAULT_LANGUAGE) -> go.Figure:
    """Horizontal bars of class probabilities, most probable on top.

    The bars carry only class names and percentages; `language` is accepted so every figure
    function is called alike.
    """
    ordered = list(reversed(top))
    figure = go.Figure(go.Bar(
        x=[item["probability"] for item in ordered],
        y=[item["class"] for item in ordered],
        orientation="h",
        text=[f"{item['probability']:.1%}" for item in ordered],
        textposition="auto",
    ))
    # Class names such as "3" must stay labels, not become a numeric axis.
    figure.update_layout(xaxis=dict(range=[0, 1], tickformat=".0%"),
                         yaxis=dict(type="category"),
                         margin=dict(l=10, r=10, t=10, b=10), height=40 + 28 * len(top))
    return figure


def pareto_chart(rows: list[dict], cost_key: str, cost_title: str,
                 language: str = DEFAULT_LANGUAGE) -> go.Figure:
    """Accuracy against a cost; the Pareto front drawn as a line, dominated runs faded.

    `cost_title` names the cost axis, already in `language`.
    """
    from lepton.compare import pareto_front

    usable = [row for row in rows
              if row.get(cost_key) is not None and row.get("test_accuracy") is not None]
    on_front = pareto_front([(row[cost_key], row["test_accuracy"]) for row in usable])
    figure = go.Figure()
    hover = _text("pareto_hover", language, cost=cost_title) + "<extra></extra>"
    for front, name, opacity in ((True, _text("pareto_front", language), 1.0),
                                 (False, _text("dominated", language), 0.3)):
        chosen = [row for row, flag in zip(usable, on_front) if flag == front]
        figure.add_scatter(
            x=[row[cost_key] for row in chosen], y=[row["test_accuracy"] for row in chosen],
            mode="markers+text", name=name, opacity=opacity, marker=dict(size=12),
            text=[_text("run_marker", language, id=row["id"]) for row in chosen],
            textposition="top center",
            customdata=[[row["id"], row["filters"], row["epochs"], row["batch_size"]]
                        for row in chosen],
            hovertemplate=hover,
        )
    front_rows = sorted((row for row, flag in zip(usable, on_front) if flag),
                        key=lambda row: row[cost_key])
    figure.add_scatter(x=[row[cost_key] for row in front_rows],
                       y=[row["test_accuracy"] for row in front_rows], mode="lines",
                       line=dict(shape="hv", dash="dot"), showlegend=False, hoverinfo="skip")
    figure.update_layout(title=_text("pareto_title", language, cost=cost_title),
                         xaxis_title=cost_title,
                         yaxis=dict(title=_text("test_accuracy", language), tickformat=".1%"),
                         margin=dict(l=10, r=10, t=40, b=10), height=420)
    return figure


def overlay_curves(curves: dict[str, list[dict]], metric: str,
                   language: str = DEFAULT_LANGUAGE) -> go.Figure:
    """Learning curves of several runs on one chart (name → epoch records)."""
    figure = go.Figure()
    for name, epochs in curves.items():
        add_epoch_traces(figure, epochs, metric, name, language=language)
    _per_epoch_layout(figure, metric, language)
    return figure


def confusion_heatmap(matrix: list[list[int]], class_names: tuple[str, ...],
                      examples: list[list[str]] | None = None,
                      language: str = DEFAULT_LANGUAGE) -> go.Figure:
    """Counts of true (rows) against predicted (columns) classes; hover names an example."""
    labels = [str(name) for name in class_names]
    hover = _text("confusion_hover", language)
    figure = go.Figure(go.Heatmap(
        z=matrix, x=labels, y=labels, colorscale="Blues", texttemplate="%{z}",
        customdata=examples, hovertemplate=hover + ("<br>%{customdata}" if examples else "")
        + "<extra></extra>",
    ))
    figure.update_layout(
        xaxis=dict(title=_text("predicted", language), side="top", type="category"),
        yaxis=dict(title=_text("true", language), autorange="reversed", type="category"),
        margin=dict(l=10, r=10, t=60, b=10), height=520,
    )
    return figure


def class_balance(per_class: dict[str, dict[str, int]],
                  language: str = DEFAULT_LANGUAGE) -> go.Figure:
    """Stacked bars of train and test images per class (a dataset manifest's counts)."""
    classes = [str(name) for name in per_class]
    figure = go.Figure()
    for part in ("train", "test"):
        part_name = _text(f"part_{part}", language)
        figure.add_bar(x=classes, y=[per_class[name][part] for name in per_class],
                       name=part_name,
                       hovertemplate=_text("class_hover", language, part=part_name)
                       + "<extra></extra>")
    figure.update_layout(title=_text("class_balance_title", language), barmode="stack",
                         yaxis_title=_text("images", language),
                         xaxis=dict(type="category"), margin=dict(l=10, r=10, t=40, b=10),
                         height=320, legend=dict(orientation="h", y=1.12, x=1, xanchor="right"))
    return figure


VARIANT_AXES = {"bytes": "optimize.axis_bytes", "p50_ms": "optimize.axis_p50"}


def variant_tradeoff(rows: list[dict], axis: str, language: str = DEFAULT_LANGUAGE) -> go.Figure:
    """Test accuracy against size ("bytes") or latency ("p50_ms") of each exported variant
    (`lepton.export` rows), one labelled point each; failed variants left out."""
    if axis not in VARIANT_AXES:
        raise ValueError(f"Expected axis in {tuple(VARIANT_AXES)}, got {axis!r}.")
    measured = [row for row in rows if row["error"] is None]
    figure = go.Figure()
    figure.add_scatter(
        x=[row[axis] for row in measured],
        y=[row["test_accuracy"] for row in measured],
        text=[row["variant"] for row in measured],
        mode="markers+text", textposition="top center", marker=dict(size=12),
        customdata=[[row["bytes"] / 1e6, row["p50_ms"], row["images_per_second"]]
                    for row in measured],
        hovertemplate=(
            f"<b>%{{text}}</b><br>{translate('optimize.hover_accuracy', language)} %{{y:.2%}}"
            f"<br>{translate('optimize.hover_size', language)} %{{customdata[0]:.3f}} MB"
            "<br>p50 %{customdata[1]:.3f} ms"
            f"<br>%{{customdata[2]:,.0f}} {translate('optimize.hover_throughput', language)}"
            "<extra></extra>"),
    )
    title = "optimize.chart_title_size" if axis == "bytes" else "optimize.chart_title_latency"
    figure.update_layout(
        title=translate(title, language),
        xaxis=dict(title=translate(VARIANT_AXES[axis], language), type="log"),
        yaxis=dict(title=translate("optimize.axis_accuracy", language), tickformat=".2%"),
        margin=dict(l=10, r=10, t=40, b=10), height=360,
    )
    return figure


def reliability_figure(report: dict, language: str = DEFAULT_LANGUAGE) -> go.Figure:
    """Accuracy against confidence per bin, as trained and after temperature scaling, with
    the diagonal a perfectly calibrated model would follow."""
    figure = go.Figure()
    figure.add_scatter(x=[0, 1], y=[0, 1], mode="lines", line=dict(dash="dot", color="grey"),
                       name=_text("calibration_ideal", language), hoverinfo="skip")
    for part, colour in (("as_trained", "#1f77b4"), ("scaled", "#ff7f0e")):
        bins = [row for row in report[part]["bins"] if row["count"]]
        figure.add_scatter(
            x=[row["confidence"] for row in bins], y=[row["accuracy"] for row in bins],
            mode="lines+markers", marker=dict(size=[6 + 14 * (row["count"] / report[
                "test_images"]) ** 0.5 for row in bins], color=colour),
            name=_text(f"calibration_{part}", language, ece=f"{report[part]['ece']:.4f}",
                       temperature=f"{report['temperature']:.2f}"),
            customdata=[[row["count"]] for row in bins],
            hovertemplate=_text("calibration_hover", language))
    figure.update_layout(title=_text("calibration_title", language),
                         xaxis=dict(title=_text("calibration_confidence", language),
                                    range=[0, 1.02], tickformat=".0%"),
                         yaxis=dict(title=_text("calibration_accuracy", language),
                                    range=[0, 1.02], tickformat=".0%"),
                         margin=dict(l=10, r=10, t=40, b=10), height=360)
    return figure


def profile_figure(profile: dict, language: str = DEFAULT_LANGUAGE) -> go.Figure:
    """Each layer's LiteRT time (`lepton.profiling`): one image, and per image of a batch."""
    layers = profile["layers"]
    names = [layer["name"] for layer in layers]
    figure = go.Figure()
    for key, share, colour in (("ms", "one_image_share_of_peak", "#1f77b4"),
                               ("batch_ms_per_image", "batch_share_of_peak", "#ff7f0e")):
        figure.add_bar(
            y=names, x=[layer[key] * 1000 for layer in layers], orientation="h",
            name=_text(f"profile_{key}", language), marker_color=colour,
            customdata=[[layer["type"], f"{layer['macs']:,}",
                         "–" if layer[share] is None else f"{layer[share]:.0%}"]
                        for layer in layers],
            hovertemplate=_text("profile_hover", language))
    figure.update_layout(title=_text("profile_title", language), barmode="group",
                         xaxis=dict(title=_text("profile_axis", language)),
                         yaxis=dict(autorange="reversed"),
                         margin=dict(l=10, r=10, t=40, b=10), height=80 + 40 * len(layers))
    return figure
