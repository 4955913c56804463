"""Runs: every run in a table, learning curves side by side, accuracy against cost."""

import pandas as pd
import streamlit as st

from lepton import charts
from lepton.compare import COST_AXES, run_row
from pages.common import cost_settings, get_store


def runs_table_ui(rows: list[dict]) -> list[int]:
    """A sortable, filterable table of runs; returns the ids the user ticked."""
    statuses = sorted({row["status"] for row in rows})
    datasets = sorted({row["dataset"] for row in rows})
    left, right = st.columns(2)
    chosen_status = left.multiselect("Status", statuses, default=statuses, key="status_filter")
    chosen_data = right.multiselect("Dataset", datasets, default=datasets, key="data_filter")
    table = pd.DataFrame([row for row in rows
                          if row["status"] in chosen_status and row["dataset"] in chosen_data])
    if table.empty:
        st.info("No run matches these filters.")
        return []
    table.insert(0, "compare", table["status"].eq("done") & (table.index < 3))
    edited = st.data_editor(
        table,
        hide_index=True,
        disabled=[column for column in table.columns if column != "compare"],
        column_config={
            "compare": st.column_config.CheckboxColumn(help="Overlay this run's curves below."),
            "test_accuracy": st.column_config.NumberColumn("accuracy", format="percent"),
            "wall_seconds": st.column_config.NumberColumn("wall s", format="%.1f"),
            "samples_per_second": st.column_config.NumberColumn("samples/s", format="%.0f"),
            "money": st.column_config.NumberColumn("cost", format="%.5f"),
            "energy_wh": st.column_config.NumberColumn("energy Wh", format="%.3f"),
            "model_bytes": st.column_config.NumberColumn("model bytes", format="%d"),
            "latency_ms": st.column_config.NumberColumn("latency ms", format="%.3f"),
        },
        key="runs_table",
    )
    st.download_button("Download CSV", table.drop(columns="compare").to_csv(index=False),
                       "lepton-runs.csv", "text/csv", icon=":material/download:")
    return [int(run_id) for run_id in edited.loc[edited["compare"], "id"]]


def curves_ui(store, run_ids: list[int]) -> None:
    if not run_ids:
        st.caption("Tick runs in the *compare* column to overlay their learning curves.")
        return
    curves = {f"run {run_id}": store.epochs(run_id) for run_id in run_ids}
    left, right = st.columns(2)
    left.plotly_chart(charts.overlay_curves(curves, "loss"), key="overlay_loss")
    right.plotly_chart(charts.overlay_curves(curves, "accuracy"), key="overlay_accuracy")


def pareto_ui(rows: list[dict]) -> None:
    axis = st.radio("Cost axis", list(COST_AXES), format_func=COST_AXES.get, horizontal=True,
                    key="cost_axis")
    done = [row for row in rows if row["status"] == "done"]
    if not any(row.get(axis) is not None for row in done):
        st.info(f"No finished run has a measured {COST_AXES[axis]} yet.")
        return
    st.plotly_chart(charts.pareto_chart(done, axis, COST_AXES[axis]), key="pareto")
    st.caption("A run is on the Pareto front when no other run is both cheaper and more "
               "accurate. Money and energy use the prices in the sidebar.")


def manage_ui(store, runs: list[dict]) -> None:
    """Download a run's model, or delete a run after confirming."""
    labels = {run["id"]: f"Run {run['id']} · {run['status']} · {run['dataset']}" for run in runs}
    run_id = st.selectbox("Run", list(labels), format_func=labels.get, key="manage_run")
    run = store.get_run(run_id)
    left, right = st.columns(2)
    if run["model_path"]:
        try:
            with open(run["model_path"], "rb") as model_file:
                left.download_button("Download model (.keras)", model_file.read(),
                                     f"lepton-run-{run_id}.keras", "application/octet-stream",
                                     icon=":material/download:", key="download_model")
        except OSError:
            left.warning("The model file of this run is missing.")
    if run["status"] in ("queued", "running"):
        right.caption("A run cannot be deleted while it trains; stop it first.")
        return
    confirm = right.checkbox(f"Yes, delete run {run_id} and its files", key="confirm_delete")
    if right.button("Delete run", disabled=not confirm, key="delete_run",
                    icon=":material/delete:"):
        store.delete_run(run_id)
        st.session_state.pop("confirm_delete", None)
        st.toast(f"Run {run_id} deleted.")
        st.rerun()


st.title("Runs")
store = get_store()
runs = store.list_runs()
if not runs:
    st.info("No runs yet: train one on the **Train** page.")
    st.stop()
settings = cost_settings()
rows = [run_row(run, settings) for run in runs]
selected = runs_table_ui(rows)
st.subheader("Learning curves")
curves_ui(store, selected)
st.subheader("Accuracy against cost")
pareto_ui(rows)
st.subheader("Manage")
manage_ui(store, runs)
