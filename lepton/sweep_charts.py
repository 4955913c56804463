"""Plotly figures of a sweep: the front on two objectives, every trial on all, importances.

Titles and names come from the "balance" section of the message catalogues, in `language`.
"""

from __future__ import annotations

import plotly.graph_objects as go

from lepton.i18n import DEFAULT_LANGUAGE, translate
from lepton.objectives import OBJECTIVES

LAYOUT = dict(margin=dict(l=10, r=10, t=40, b=10), height=380)


def objective_title(name: str, language: str) -> str:
    unit = OBJECTIVES[name].unit
    title = translate(f"balance.objective_{name}", language)
    return f"{title} ({unit})" if unit else title


def _axis(name: str, language: str, values: list[float] = ()) -> dict:
    axis = dict(title=objective_title(name, language))
    if name in ("accuracy", "val_accuracy"):
        axis["tickformat"] = ".1%"
        if values:  # Plotly pads one point by ±50 %: keep an accuracy axis within 0..100 %
            pad = max(0.01, (max(values) - min(values)) * 0.1)
            axis["range"] = [max(0.0, min(values) - pad), min(1.0, max(values)) + pad / 2]
    return axis


def front_figure(trials: list[dict], x: str, y: str, pareto_ids: list[int],
                 recommended_id: int | None, language: str = DEFAULT_LANGUAGE) -> go.Figure:
    """Every measured trial on objectives `x` and `y`: the front solid and joined, dominated
    trials faded, trials over a limit crossed out, the recommended one starred."""
    measured = [trial for trial in trials if trial["status"] == "done"
                and (trial.get("figures") or {}).get(x) is not None
                and (trial.get("figures") or {}).get(y) is not None]
    groups = {
        "front": [trial for trial in measured if trial["run_id"] in pareto_ids],
        "dominated": [trial for trial in measured
                      if trial["run_id"] not in pareto_ids and trial.get("feasible")],
        "infeasible": [trial for trial in measured if not trial.get("feasible")],
    }
    styles = {
        "front": dict(mode="lines+markers", marker=dict(size=11, color="#1f77b4"),
                      line=dict(shape="hv", color="#1f77b4")),
        "dominated": dict(mode="markers", marker=dict(size=9, color="#1f77b4", opacity=0.3)),
        "infeasible": dict(mode="markers", marker=dict(size=10, color="#d62728",
                                                       symbol="x", opacity=0.7)),
    }
    figure = go.Figure()
    hover = translate("balance.hover", language).format(x=objective_title(x, language),
                                                        y=objective_title(y, language))
    for name, group in groups.items():
        if name == "front":
            group = sorted(group, key=lambda trial: trial["figures"][x])
        figure.add_scatter(
            x=[trial["figures"][x] for trial in group],
            y=[trial["figures"][y] for trial in group],
            customdata=[[trial["number"], trial["run_id"], _params_text(trial)]
                        for trial in group],
            hovertemplate=hover, name=translate(f"balance.trace_{name}", language),
            **styles[name])
    pick = next((trial for trial in measured if trial["run_id"] == recommended_id), None)
    if pick is not None:
        figure.add_scatter(x=[pick["figures"][x]], y=[pick["figures"][y]], mode="markers",
                           marker=dict(size=20, symbol="star", color="#ff7f0e",
                                       line=dict(width=1, color="black")),
                           name=translate("balance.trace_recommended", language),
                           hoverinfo="skip")
    figure.update_layout(
        title=translate("balance.front_title", language).format(
            x=objective_title(x, language), y=objective_title(y, language)),
        xaxis=_axis(x, language, [trial["figures"][x] for trial in measured]),
        yaxis=_axis(y, language, [trial["figures"][y] for trial in measured]), **LAYOUT)
    return figure


def _params_text(trial: dict) -> str:
    return ", ".join(f"{name} {value:g}" if isinstance(value, float) else f"{name} {value}"
                     for name, value in trial["params"].items())


def coordinates_figure(trials: list[dict], objectives: list[str], dimensions: list[str],
                       language: str = DEFAULT_LANGUAGE) -> go.Figure:
    """Every measured trial as one line across its numeric parameters and all objectives,
    coloured by the first objective."""
    measured = [trial for trial in trials if trial["status"] == "done"]
    axes = []
    for name in dimensions:
        values = [trial["params"].get(name) for trial in measured]
        if all(isinstance(value, (int, float)) for value in values) and values:
            axes.append(dict(label=name, values=values))
    for name in objectives:
        axes.append(dict(label=objective_title(name, language),
                         values=[trial["figures"][name] for trial in measured]))
    colour = [trial["figures"][objectives[0]] for trial in measured]
    figure = go.Figure(go.Parcoords(dimensions=axes, line=dict(color=colour,
                                                               colorscale="Viridis",
                                                               showscale=True)))
    # Parallel coordinates put axis titles above the plot and tick labels left of it.
    figure.update_layout(title=translate("balance.coordinates_title", language),
                         **{**LAYOUT, "margin": dict(l=60, r=40, t=90, b=20)})
    return figure


def importance_figure(importances: dict, objective: str,
                      language: str = DEFAULT_LANGUAGE) -> go.Figure:
    """How much each parameter explains `objective` across the trials (Optuna's evaluator)."""
    shares = sorted(importances.items(), key=lambda item: item[1])
    figure = go.Figure(go.Bar(x=[share for _, share in shares], y=[name for name, _ in shares],
                              orientation="h", marker_color="#2ca02c"))
    figure.update_layout(
        title=translate("balance.importance_title", language).format(
            objective=objective_title(objective, language)),
        xaxis=dict(tickformat=".0%"), **{**LAYOUT, "height": 300})
    return figure
