"""Plotly figures of pruning: accuracy against compressed size and latency, weight histograms.

Titles and names come from the "optimize" section of the message catalogues, in `language`.
"""

from __future__ import annotations

import plotly.graph_objects as go

from lepton.i18n import DEFAULT_LANGUAGE, translate

LAYOUT = dict(margin=dict(l=10, r=10, t=40, b=10), height=360)


def _text(key: str, language: str) -> str:
    return translate(f"optimize.{key}", language)


def tradeoff_figure(children: list[dict], axis: str, language: str = DEFAULT_LANGUAGE):
    """Test accuracy against gzip size ("size") or one-image latency ("latency") of the parent
    and each pruned run, as fp32 and with int8 on top (size only)."""
    if not children:
        raise ValueError("Prune the run once at least to compare.")
    first = children[0]["metrics"]
    labels = [f"{run['metrics']['sparsity']:.0%}" for run in children]
    figure = go.Figure()
    if axis == "size":
        series = (("pruned_fp32", "gzip_bytes", "test_accuracy", "#1f77b4"),
                  ("pruned_int8", "int8_gzip_bytes", "int8_test_accuracy", "#2ca02c"))
        parents = (("parent_fp32", first.get("parent_gzip_bytes"),
                    first.get("parent_test_accuracy")),
                   ("parent_int8", first.get("parent_int8_gzip_bytes"),
                    first.get("parent_int8_test_accuracy")))
        title, x_title = "prune_size_title", "prune_size_axis"
    else:
        series = (("pruned_fp32", "latency_ms", "test_accuracy", "#1f77b4"),)
        parents = (("parent_fp32", first.get("parent_latency_ms"),
                    first.get("parent_test_accuracy")),)
        title, x_title = "prune_latency_title", "prune_latency_axis"
    for name, x_key, y_key, colour in series:
        figure.add_scatter(x=[run["metrics"].get(x_key) for run in children],
                           y=[run["metrics"].get(y_key) for run in children], text=labels,
                           mode="lines+markers+text", textposition="top center",
                           name=_text(f"prune_{name}", language), marker=dict(color=colour))
    for name, x, y in parents:
        if x is None or y is None:  # a run pruned before Lepton measured this
            continue
        figure.add_scatter(x=[x], y=[y], mode="markers", marker=dict(size=14, symbol="diamond"),
                           name=_text(f"prune_{name}", language))
    figure.update_layout(title=_text(title, language),
                         xaxis=dict(title=_text(x_title, language),
                                    type="log" if axis == "size" else "linear"),
                         yaxis=dict(title=_text("axis_accuracy", language), tickformat=".1%"),
                         **LAYOUT)
    return figure


def histogram_figure(histograms: dict, language: str = DEFAULT_LANGUAGE) -> go.Figure:
    """The parent's kernel weights against the pruned run's (log counts: the zeros tower)."""
    edges = histograms["edges"]
    centres = [(low + high) / 2 for low, high in zip(edges[:-1], edges[1:])]
    figure = go.Figure()
    for name, colour in (("parent", "#7f7f7f"), ("pruned", "#1f77b4")):
        figure.add_bar(x=centres, y=histograms[name], name=_text(f"prune_histogram_{name}",
                                                                 language),
                       marker_color=colour, opacity=0.6)
    figure.update_layout(title=_text("prune_histogram_title", language), barmode="overlay",
                         xaxis=dict(title=_text("prune_histogram_axis", language)),
                         yaxis=dict(type="log"), **LAYOUT)
    return figure
