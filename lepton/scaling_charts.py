"""Plotly figure of the single-node-vs-many estimate (no Streamlit: the page places it)."""

from __future__ import annotations

import plotly.graph_objects as go
from plotly.subplots import make_subplots

from lepton.i18n import DEFAULT_LANGUAGE, translate

ONE_NODE_WINS_COLOR = "rgba(214, 39, 40, 0.12)"


def _runs_of(values: list[int]) -> list[tuple[int, int]]:
    """Consecutive integers grouped into (first, last) ranges: [2, 3, 4, 9] → [(2, 4), (9, 9)]."""
    ranges: list[tuple[int, int]] = []
    for value in sorted(values):
        if ranges and value == ranges[-1][1] + 1:
            ranges[-1] = (ranges[-1][0], value)
        else:
            ranges.append((value, value))
    return ranges


def scaling_chart(rows: list[dict], verdict: dict, currency: str = "$",
                  language: str = DEFAULT_LANGUAGE) -> go.Figure:
    """Speed-up (left) and cost (right) against the number of nodes.

    Args:
        rows: `lepton.scaling.sweep` output.
        verdict: `lepton.scaling.break_even` output for the same inputs.
        currency: prefix of the cost axis.
        language: of titles, labels and hover text ("en", "zh").

    Node counts where one node finishes first are shaded; the fastest and cheapest N are starred.
    """
    def text(name: str, /, **values) -> str:
        return translate(f"scaling.chart_{name}", language, **values)

    nodes = [row["nodes"] for row in rows]
    speedups = [row["speedup"] for row in rows]
    costs = [row["cost"] for row in rows]
    figure = make_subplots(rows=1, cols=2, horizontal_spacing=0.1,
                           subplot_titles=(text("speedup_title"), text("cost_title")))
    hover = [text("hover", nodes=row["nodes"], seconds=f"{row['total_seconds']:,.1f}",
                  efficiency=f"{row['efficiency']:.0%}",
                  share=f"{row['communication_seconds'] / row['step_seconds']:.0%}")
             for row in rows]
    figure.add_scatter(x=nodes, y=speedups, mode="lines+markers", name=text("estimated_speedup"),
                       marker=dict(size=4), hovertext=hover, hoverinfo="text+y", row=1, col=1)
    figure.add_scatter(x=nodes, y=nodes, mode="lines", name=text("ideal"),
                       line=dict(dash="dot", color="gray"), hoverinfo="skip", row=1, col=1)
    figure.add_hline(y=1, line=dict(color="black", width=1), row=1, col=1)
    figure.add_scatter(x=nodes, y=costs, mode="lines+markers", name=text("estimated_cost"),
                       marker=dict(size=4), hovertext=hover, hoverinfo="text+y", row=1, col=2)

    by_nodes = {row["nodes"]: row for row in rows}
    fastest, cheapest = by_nodes[verdict["fastest"]], by_nodes[verdict["cheapest"]]
    figure.add_scatter(x=[fastest["nodes"]], y=[fastest["speedup"]], mode="markers+text",
                       marker=dict(symbol="star", size=14), name=text("fastest"),
                       text=[text("fastest_label", nodes=fastest["nodes"])],
                       textposition="top right" if fastest["nodes"] < 8 else "top center",
                       row=1, col=1)
    figure.add_scatter(x=[cheapest["nodes"]], y=[cheapest["cost"]], mode="markers+text",
                       marker=dict(symbol="star", size=14), name=text("cheapest"),
                       text=[text("cheapest_label", nodes=cheapest["nodes"])],
                       textposition="top right", row=1, col=2)

    losing = [row["nodes"] for row in rows if row["nodes"] > 1 and not row["faster_than_one_node"]]
    for first, last in _runs_of(losing):
        for column in (1, 2):
            # Plotly writes "new text" for annotation_text=None: label the left panel only.
            label = dict(annotation_text=text("one_node_wins"), annotation_position="top left")
            figure.add_vrect(x0=first - 0.5, x1=last + 0.5, fillcolor=ONE_NODE_WINS_COLOR,
                             line_width=0, layer="below", row=1, col=column,
                             **(label if column == 1 else {}))

    top = max(max(speedups) * 1.3, 1.5)
    figure.update_xaxes(title_text=text("nodes_axis"), range=[0.5, max(nodes) + 0.5])
    figure.update_yaxes(title_text=text("speedup_axis"), range=[0, top], row=1, col=1)
    figure.update_yaxes(title_text=text("cost_axis", currency=currency), rangemode="tozero",
                        row=1, col=2)
    figure.update_layout(height=420, margin=dict(l=10, r=10, t=50, b=10), hovermode="closest",
                         legend=dict(orientation="h", y=-0.2))
    return figure
