"""Plotly figure of the single-node-vs-many estimate (no Streamlit: the page places it)."""

from __future__ import annotations

import plotly.graph_objects as go
from plotly.subplots import make_subplots

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


def scaling_chart(rows: list[dict], verdict: dict, currency: str = "$") -> go.Figure:
    """Speed-up (left) and cost (right) against the number of nodes.

    Args:
        rows: `lepton.scaling.sweep` output.
        verdict: `lepton.scaling.break_even` output for the same inputs.
        currency: prefix of the cost axis.

    Node counts where one node finishes first are shaded; the fastest and cheapest N are starred.
    """
    nodes = [row["nodes"] for row in rows]
    speedups = [row["speedup"] for row in rows]
    costs = [row["cost"] for row in rows]
    figure = make_subplots(rows=1, cols=2, horizontal_spacing=0.1,
                           subplot_titles=("Speed-up against one node", "Cost of the training"))
    hover = [f"{row['nodes']} nodes<br>{row['total_seconds']:,.1f} s total<br>"
             f"efficiency {row['efficiency']:.0%}<br>communication "
             f"{row['communication_seconds'] / row['step_seconds']:.0%} of a step"
             for row in rows]
    figure.add_scatter(x=nodes, y=speedups, mode="lines+markers", name="estimated speed-up",
                       marker=dict(size=4), hovertext=hover, hoverinfo="text+y", row=1, col=1)
    figure.add_scatter(x=nodes, y=nodes, mode="lines", name="ideal (linear)",
                       line=dict(dash="dot", color="gray"), hoverinfo="skip", row=1, col=1)
    figure.add_hline(y=1, line=dict(color="black", width=1), row=1, col=1)
    figure.add_scatter(x=nodes, y=costs, mode="lines+markers", name="estimated cost",
                       marker=dict(size=4), hovertext=hover, hoverinfo="text+y", row=1, col=2)

    by_nodes = {row["nodes"]: row for row in rows}
    fastest, cheapest = by_nodes[verdict["fastest"]], by_nodes[verdict["cheapest"]]
    figure.add_scatter(x=[fastest["nodes"]], y=[fastest["speedup"]], mode="markers+text",
                       marker=dict(symbol="star", size=14), name="fastest",
                       text=[f"fastest: N={fastest['nodes']}"],
                       textposition="top right" if fastest["nodes"] < 8 else "top center",
                       row=1, col=1)
    figure.add_scatter(x=[cheapest["nodes"]], y=[cheapest["cost"]], mode="markers+text",
                       marker=dict(symbol="star", size=14), name="cheapest",
                       text=[f"cheapest: N={cheapest['nodes']}"], textposition="top right",
                       row=1, col=2)

    losing = [row["nodes"] for row in rows if row["nodes"] > 1 and not row["faster_than_one_node"]]
    for first, last in _runs_of(losing):
        for column in (1, 2):
            # Plotly writes "new text" for annotation_text=None: label the left panel only.
            label = dict(annotation_text="one node wins", annotation_position="top left")
            figure.add_vrect(x0=first - 0.5, x1=last + 0.5, fillcolor=ONE_NODE_WINS_COLOR,
                             line_width=0, layer="below", row=1, col=column,
                             **(label if column == 1 else {}))

    top = max(max(speedups) * 1.3, 1.5)
    figure.update_xaxes(title_text="nodes N", range=[0.5, max(nodes) + 0.5])
    figure.update_yaxes(title_text="speed-up T(1) / T(N)", range=[0, top], row=1, col=1)
    figure.update_yaxes(title_text=f"cost ({currency})", rangemode="tozero", row=1, col=2)
    figure.update_layout(height=420, margin=dict(l=10, r=10, t=50, b=10), hovermode="closest",
                         legend=dict(orientation="h", y=-0.2))
    return figure
