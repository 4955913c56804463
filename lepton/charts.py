"""Plotly figures of runs (no Streamlit here: pages decide where figures go)."""

from __future__ import annotations

import plotly.graph_objects as go

HOVER_LAYOUT = dict(hovermode="x unified", margin=dict(l=10, r=10, t=40, b=10), height=320)


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
        yaxis2=dict(title="accuracy", overlaying="y", side="right", range=[0, 1]),
        **HOVER_LAYOUT,
    )
    return figure


def epoch_curves(epochs: list[dict], metric: str = "loss", name: str = "") -> go.Figure:
    """Training and validation `metric` per epoch."""
    figure = go.Figure()
    add_epoch_traces(figure, epochs, metric, name)
    figure.update_layout(title=f"{metric.capitalize()} per epoch", xaxis_title="epoch",
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
    figure.update_layout(title="Training speed per epoch (samples/s, steps only)",
                         xaxis_title="epoch", yaxis_title="samples/s", **HOVER_LAYOUT)
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
