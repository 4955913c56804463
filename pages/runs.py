"""Runs: every run in a table, learning curves side by side, accuracy against cost."""

import uuid

import pandas as pd
import streamlit as st

from lepton import charts, model_card
from lepton.compare import COST_AXES, run_row
from lepton.registry import is_active
from pages.common import (
    cost_settings,
    get_snapshot,
    get_store,
    get_work_pool,
    language,
    status_label,
    t,
    wait_for,
)


def column_config() -> dict:
    """Every column of `run_row` titled in the chosen language; numbers formatted."""
    number = st.column_config.NumberColumn
    titled = {column: st.column_config.Column(t(f"runs.column_{column}"))
              for column in ("status", "dataset", "created", "filters", "optimizer")}
    return {
        **titled,
        "compare": st.column_config.CheckboxColumn(t("runs.column_compare"),
                                                   help=t("runs.column_compare_help")),
        "id": number(t("runs.column_id"), format="%d"),
        "kernel": number(t("runs.column_kernel")),
        "dense": number(t("runs.column_dense")),
        "learning_rate": number(t("runs.column_learning_rate")),
        "batch_size": number(t("runs.column_batch_size")),
        "epochs": number(t("runs.column_epochs")),
        "test_accuracy": number(t("runs.column_test_accuracy"), format="percent"),
        "wall_seconds": number(t("runs.column_wall_seconds"), format="%.1f"),
        "samples_per_second": number(t("runs.column_samples_per_second"), format="%.0f"),
        "money": number(t("runs.column_money"), format="%.5f"),
        "energy_wh": number(t("runs.column_energy_wh"), format="%.3f"),
        "model_bytes": number(t("runs.column_model_bytes"), format="%d"),
        "params": number(t("runs.column_params")),
        "latency_ms": number(t("runs.column_latency_ms"), format="%.3f"),
    }


def runs_table_ui(rows: list[dict]) -> list[int]:
    """A sortable, filterable table of runs; returns the ids the user ticked."""
    statuses = sorted({row["status"] for row in rows})
    datasets = sorted({row["dataset"] for row in rows})
    left, right = st.columns(2)
    status_names = {status: status_label(status) for status in statuses}
    chosen_status = left.multiselect(t("runs.status_filter"), statuses, default=statuses,
                                     format_func=status_names.get, key="status_filter")
    chosen_data = right.multiselect(t("runs.data_filter"), datasets, default=datasets,
                                    key="data_filter")
    table = pd.DataFrame([row for row in rows
                          if row["status"] in chosen_status and row["dataset"] in chosen_data])
    if table.empty:
        st.info(t("runs.no_match"))
        return []
    table.insert(0, "compare", table["status"].eq("done") & (table.index < 3))
    edited = st.data_editor(
        table.assign(status=table["status"].map(status_label)),  # shown in words; CSV keeps ids
        hide_index=True,
        disabled=[column for column in table.columns if column != "compare"],
        column_config=column_config(),
        key="runs_table",
    )
    st.download_button(t("runs.download_csv"), table.drop(columns="compare").to_csv(index=False),
                       "lepton-runs.csv", "text/csv", icon=":material/download:")
    return [int(run_id) for run_id in edited.loc[edited["compare"], "id"]]


def curves_ui(store, run_ids: list[int]) -> None:
    if not run_ids:
        st.caption(t("runs.tick_to_compare"))
        return
    curves = {t("runs.curve_name", id=run_id): store.epochs(run_id) for run_id in run_ids}
    left, right = st.columns(2)
    left.plotly_chart(charts.overlay_curves(curves, "loss", language=language()),
                      key="overlay_loss")
    right.plotly_chart(charts.overlay_curves(curves, "accuracy", language=language()),
                       key="overlay_accuracy")


def pareto_ui(rows: list[dict]) -> None:
    titles = {axis: t(key) for axis, key in COST_AXES.items()}
    axis = st.radio(t("runs.cost_axis"), list(titles), format_func=titles.get, horizontal=True,
                    key="cost_axis")
    title = titles[axis]
    done = [row for row in rows if row["status"] == "done"]
    if not any(row.get(axis) is not None for row in done):
        st.info(t("runs.no_cost_measured", cost=title))
        return
    st.plotly_chart(charts.pareto_chart(done, axis, title, language=language()), key="pareto")
    st.caption(t("runs.pareto_caption"))


def card_ui(store, run_id: int, column) -> None:
    """Writes the run's model card (figures measured now, in a worker process) to download."""
    if column.button(t("runs.write_card"), key="write_card", icon=":material/description:",
                     help=t("runs.write_card_help")):
        # A key of its own: the pool keeps answers for every session, and a card is measured
        # anew on every click.
        ticket = get_work_pool().submit(("model card", str(store.home), run_id, uuid.uuid4().hex),
                                        model_card.card_for, str(store.home), run_id)
        wait_for([ticket], t("runs.writing_card"))
        st.session_state["model_card"] = (run_id, ticket.result())
    card = st.session_state.get("model_card")
    if card and card[0] == run_id:
        column.download_button(t("runs.download_card"), card[1],
                               f"lepton-run-{run_id}-model-card.md", "text/markdown",
                               icon=":material/download:", key="download_card")
        with st.expander(t("runs.card_preview", id=run_id)):
            st.markdown(card[1])


def manage_ui(store, runs: list[dict]) -> None:
    """Download a run's model, or delete a run after confirming."""
    labels = {run["id"]: t("runs.manage_label", id=run["id"], status=status_label(run["status"]),
                           dataset=run["dataset"])
              for run in runs}
    run_id = st.selectbox(t("runs.manage_run"), list(labels), format_func=labels.get,
                          key="manage_run")
    run = store.get_run(run_id)
    left, right = st.columns(2)
    if run["model_path"]:
        try:
            with open(run["model_path"], "rb") as model_file:
                left.download_button(t("runs.download_model"), model_file.read(),
                                     f"lepton-run-{run_id}.keras", "application/octet-stream",
                                     icon=":material/download:", key="download_model")
        except OSError:
            left.warning(t("runs.model_missing"))
        card_ui(store, run_id, left)
    if is_active(run):
        right.caption(t("runs.cannot_delete_training"))
        return
    confirm = right.checkbox(t("runs.confirm_delete", id=run_id), key="confirm_delete")
    if right.button(t("runs.delete_run"), disabled=not confirm, key="delete_run",
                    icon=":material/delete:"):
        store.delete_run(run_id)
        st.session_state.pop("confirm_delete", None)
        st.toast(t("runs.deleted", id=run_id))
        st.rerun()


st.title(t("runs.title"))
store = get_store()
runs = get_snapshot().runs()
if not runs:
    st.info(t("runs.no_runs"))
    st.stop()
settings = cost_settings()
rows = [run_row(run, settings) for run in runs]
selected = runs_table_ui(rows)
st.subheader(t("runs.learning_curves"))
curves_ui(store, selected)
st.subheader(t("runs.accuracy_vs_cost"))
pareto_ui(rows)
st.subheader(t("runs.manage"))
manage_ui(store, runs)
