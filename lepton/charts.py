"""Plotly figures of runs (no Streamlit here: pages decide where figures go)."""

from __future__ import annotations

import plotly.graph_objects as go

HOVER_LAYOUT = dict(hovermode="x unified", margin=dict(l=10, r=10, t=40, b=10), height=320)
EPOCH_AXIS = dict(title="epoch", dtick=1)


def batch_curve(batches: list[dict], steps_per_epoch: int | None = None) -> go.Figure:
    """Per-batch training loss and accuracy against the global step."""
    steps = steps_per_epoch or max((row["step"] for row in batches), default=1)
    x = [(row["epoch"] - 1) * steps + row["step"] for row in batches]
    figure = go.Figure()
    figure.add_scatter(x=x, y=[row["loss"] for row in batches], name="loss", mode="lines")
    figure.add_scatter(x=x, y=[row["accuracy"] for row in batches], name="accuracy",
                       mode="lines", yaxis="y2")
    figure.update_layout(
        title="Per-batch training loss and accuracy",
        xaxis_title="step",
        yaxis=dict(title="loss"),
        yaxis2=dict(title="accuracy", overlaying="y", side="right", range=[0, 1],
                    tickmode="auto", tickformat=".0%", showgrid=False),
        **HOVER_LAYOUT,
    )
    return figure


def epoch_curves(epochs: list[dict], metric: str = "loss", name: str = "") -> go.Figure:
    """Training and validation `metric` per epoch."""
    figure = go.Figure()
    add_epoch_traces(figure, epochs, metric, name)
    figure.update_layout(title=f"{metric.capitalize()} per epoch", xaxis=EPOCH_AXIS,
                         yaxis_title=metric, **HOVER_LAYOUT)
    return figure


def add_epoch_traces(figure: go.Figure, epochs: list[dict], metric: str, name: str = "") -> None:
    prefix = f"{name} " if name else ""
    x = [row["epoch"] for row in epochs]
    figure.add_scatter(x=x, y=[row[metric] for row in epochs], name=f"{prefix}train",
                       mode="lines+markers")
    if any(row.get(f"val_{metric}") is not None for row in epochs):
        figure.add_scatter(x=x, y=[row[f"val_{metric}"] for row in epochs],
                           name=f"{prefix}validation", mode="lines+markers",
                           line=dict(dash="dash"))


def throughput_curve(epochs: list[dict]) -> go.Figure:
    """Training samples per second, epoch by epoch."""
    figure = go.Figure()
    figure.add_bar(x=[row["epoch"] for row in epochs],
                   y=[row["samples_per_second"] for row in epochs], name="samples/s")
    figure.update_layout(title="Samples/s per epoch (steps only)", xaxis=EPOCH_AXIS,
                         yaxis_title="samples/s", **HOVER_LAYOUT)
    return figure


def probability_bars(top: list[dict]) -> go.Figure:
    """Horizontal bars of class probabilities, most probable on top."""
    ordered = list(reversed(top))
    figure = go.Figure(go.Bar(
        x=[item["probability"] for item in ordered],
        y=[item["class"] for item in ordered],
        orientation="h",
        text=[f"{item['probability']:.1%}" for item in ordered],
        textposition="auto",
    ))
    figure.update_layout(xaxis=dict(range=[0, 1], tickformat=".0%"),
                         margin=dict(l=10, r=10, t=10, b=10), height=40 + 28 * len(top))
    return figure


def pareto_chart(rows: list[dict], cost_key: str, cost_title: str) -> go.Figure:
    """Accuracy against a cost; the Pareto front drawn as a line, dominated runs faded."""
    from lepton.compare import pareto_front

    usable = [row for row in rows
              if row.get(cost_key) is not None and row.get("test_accuracy") is not None]
    on_front = pareto_front([(row[cost_key], row["test_accuracy"]) for row in usable])
    figure = go.Figure()
    for front, name, opacity in ((True, "Pareto front", 1.0), (False, "dominated", 0.3)):
        chosen = [row for row, flag in zip(usable, on_front) if flag == front]
        figure.add_scatter(
            x=[row[cost_key] for row in chosen], y=[row["test_accuracy"] for row in chosen],
            mode="markers+text", name=name, opacity=opacity, marker=dict(size=12),
            text=[f"run {row['id']}" for row in chosen], textposition="top center",
            customdata=[[row["id"], row["filters"], row["epochs"], row["batch_size"]]
                        for row in chosen],
            hovertemplate="run %{customdata[0]}<br>accuracy %{y:.2%}<br>"
                          + cost_title + " %{x:.4g}<br>filters %{customdata[1]}, "
                          "epochs %{customdata[2]}, batch %{customdata[3]}<extra></extra>",
        )
    front_rows = sorted((row for row, flag in zip(usable, on_front) if flag),
                        key=lambda row: row[cost_key])
    figure.add_scatter(x=[row[cost_key] for row in front_rows],
                       y=[row["test_accuracy"] for row in front_rows], mode="lines",
                       line=dict(shape="hv", dash="dot"), showlegend=False, hoverinfo="skip")
    figure.update_layout(title=f"Accuracy against {cost_title} (up and left is better)",
                         xaxis_title=cost_title, yaxis=dict(title="test accuracy",
                                                            tickformat=".1%"),
                         margin=dict(l=10, r=10, t=40, b=10), height=420)
    return figure


def overlay_curves(curves: dict[str, list[dict]], metric: str) -> go.Figure:
    """Learning curves of several runs on one chart (name → epoch records)."""
    figure = go.Figure()
    for name, epochs in curves.items():
        add_epoch_traces(figure, epochs, metric, name)
    figure.update_layout(title=f"{metric.capitalize()} per epoch", xaxis=EPOCH_AXIS,
                         yaxis_title=metric, **HOVER_LAYOUT)
    return figure


def confusion_heatmap(matrix: list[list[int]], class_names: tuple[str, ...],
                      examples: list[list[str]] | None = None) -> go.Figure:
    """Counts of true (rows) against predicted (columns) classes; hover names an example."""
    labels = [str(name) for name in class_names]
    hover = "true %{y}<br>predicted %{x}<br>%{z} images"
    figure = go.Figure(go.Heatmap(
        z=matrix, x=labels, y=labels, colorscale="Blues", texttemplate="%{z}",
        customdata=examples, hovertemplate=hover + ("<br>%{customdata}" if examples else "")
        + "<extra></extra>",
    ))
    figure.update_layout(xaxis=dict(title="predicted", side="top", type="category"),
                         yaxis=dict(title="true", autorange="reversed", type="category"),
                         margin=dict(l=10, r=10, t=60, b=10), height=520)
    return figure


def class_balance(per_class: dict[str, dict[str, int]]) -> go.Figure:
    """Stacked bars of train and test images per class (a dataset manifest's counts)."""
    classes = [str(name) for name in per_class]
    figure = go.Figure()
    for part in ("train", "test"):
        figure.add_bar(x=classes, y=[per_class[name][part] for name in per_class], name=part,
                       hovertemplate="%{x}: %{y} " + part + " images<extra></extra>")
    figure.update_layout(title="Images per class", barmode="stack", yaxis_title="images",
                         xaxis=dict(type="category"), margin=dict(l=10, r=10, t=40, b=10),
                         height=320, legend=dict(orientation="h", y=1.12, x=1, xanchor="right"))
    return figure
