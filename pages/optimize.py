"""Optimize: export a run as TFLite fp32, fp16 and int8, measure each here, download them."""

from datetime import datetime
from pathlib import Path

import pandas as pd
import streamlit as st

from lepton import charts
from lepton.background import text_of
from lepton.export import (
    VARIANT_NOTES,
    VARIANTS,
    export_progress,
    load_measurements,
    start_export,
)
from pages.common import finished_runs, get_snapshot, get_store, language, run_label, t

REPEAT_CHOICES = [200, 500, 1000, 2000, 5000]
def variant_note(variant: str) -> str:
    """What a variant is (lepton.export.VARIANT_NOTES), in the chosen language."""
    key = f"optimize.note_{variant.replace('-', '_')}"
    note = t(key)
    return VARIANT_NOTES.get(variant, variant) if note == key else note


def choose_ui(runs: list[dict]) -> tuple[dict, list[str], int]:
    """The run, the variants and the latency repeats the user picked."""
    labels = {run["id"]: run_label(run) for run in runs}
    run_id = st.selectbox(t("optimize.run"), list(labels), format_func=labels.get,
                          key="optimize_run")
    left, right = st.columns([2, 1])
    variants = left.multiselect(
        t("optimize.variants"), VARIANTS, default=list(VARIANTS), key="optimize_variants",
        help=" · ".join(f"{name}: {variant_note(name)}" for name in VARIANTS),
    )
    repeats = right.select_slider(
        t("optimize.repeats"), REPEAT_CHOICES, value=1000, key="optimize_repeats",
        help=t("optimize.repeats_help"),
    )
    return next(run for run in runs if run["id"] == run_id), variants, repeats


def measure_ui(run: dict, variants: list[str], repeats: int) -> None:
    """The button that starts an export in its own process, and its progress while it runs."""
    progress = export_progress(get_store(), run["id"])
    running = bool(progress and progress["status"] == "running")
    st.fragment(run_every=1.0 if running else None)(export_status)(run, running)
    if running:
        return
    training = [other for other in get_snapshot().runs() if other["status"] == "running"]
    if training:
        st.warning(t("optimize.training_now", run=training[0]["id"]), icon=":material/warning:")
    if st.button(t("optimize.export_measure"), type="primary", icon=":material/speed:",
                 key="export_measure", disabled=not variants,
                 help=t("optimize.export_measure_help")):
        try:
            start_export(get_store(), run["id"], variants, repeats)
        except ValueError as error:
            st.warning(str(error))
            return
        st.rerun()


def export_status(run: dict, was_running: bool) -> None:
    """The running export's progress bar; the whole page again once it ended."""
    progress = export_progress(get_store(), run["id"])
    running = bool(progress and progress["status"] == "running")
    if was_running and not running:
        st.rerun(scope="app")  # the table and charts of the new measurements
    if running:
        st.progress(progress["fraction"], text=text_of(progress, language()))
    elif progress and progress["status"] == "failed":
        st.error(t("optimize.export_failed", run=run["id"], reason=progress.get("error") or ""),
                 icon=":material/error:")


def method_text(document: dict) -> str:
    method = document["method"]
    measured = datetime.fromisoformat(document["measured_at"]).strftime("%Y-%m-%d %H:%M UTC")
    load = ", ".join(f"{value:.2f}" for value in method["load_average"])
    return t(
        "optimize.method", measured=measured, host=method["host"], cpu=method["cpu"],
        cores=method["logical_cores"], images=f"{method['test_images']:,}",
        dataset=document["dataset"], repeats=f"{method['repeats']:,}", warmup=method["warmup"],
        single_threads=method["single_image_threads"], batch_size=method["batch_size"],
        threads=method["threads"], keras=method["keras"], litert=method["litert"], load=load,
        samples=method["representative_samples"],
    )


def table_ui(rows: list[dict]) -> None:
    table = pd.DataFrame([
        {"variant": row["variant"], "file": Path(row["path"]).name,
         "size MB": row["bytes"] / 1e6 if row["bytes"] else None,
         "vs .keras": row.get("size_vs_keras"), "accuracy": row["test_accuracy"],
         "Δ accuracy": (row["accuracy_delta"] * 100
                        if row.get("accuracy_delta") is not None else None),
         "top-1 agreement": row.get("top1_agreement"), "p50 ms": row["p50_ms"],
         "p95 ms": row["p95_ms"],
         "img/s": round(row["images_per_second"]) if row["images_per_second"] else None,
         "convert s": row.get("convert_seconds"), "error": row["error"]}
        for row in rows
    ])
    if table["error"].isna().all():
        table = table.drop(columns="error")
    # Column names stay stable; the headers shown follow the language.
    st.dataframe(table, hide_index=True, column_config={
        "variant": st.column_config.TextColumn(t("optimize.column_variant")),
        "file": st.column_config.TextColumn(t("optimize.column_file")),
        "size MB": st.column_config.NumberColumn(t("optimize.column_size"), format="%.3f"),
        "vs .keras": st.column_config.NumberColumn(t("optimize.column_vs_keras"),
                                                   format="percent",
                                                   help=t("optimize.vs_keras_help")),
        "accuracy": st.column_config.NumberColumn(t("optimize.column_accuracy"),
                                                  format="percent"),
        "Δ accuracy": st.column_config.NumberColumn(
            t("optimize.column_accuracy_delta"), format="%+.2f",
            help=t("optimize.accuracy_delta_help")),
        "top-1 agreement": st.column_config.NumberColumn(
            t("optimize.column_agreement"), format="percent", help=t("optimize.agreement_help")),
        "p50 ms": st.column_config.NumberColumn(t("optimize.column_p50"), format="%.3f"),
        "p95 ms": st.column_config.NumberColumn(t("optimize.column_p95"), format="%.3f"),
        "img/s": st.column_config.NumberColumn(t("optimize.column_throughput"),
                                               format="localized"),
        "convert s": st.column_config.NumberColumn(t("optimize.column_convert"), format="%.2f"),
        "error": st.column_config.TextColumn(t("optimize.column_error")),
    })


def chart_ui(rows: list[dict]) -> None:
    # Names looked up now, in this run's language: format_func is also called later.
    axis_names = {value: t(key) for value, key in charts.VARIANT_AXES.items()}
    axis = st.radio(t("optimize.against"), list(axis_names), format_func=axis_names.get,
                    horizontal=True, key="optimize_axis")
    st.plotly_chart(charts.variant_tradeoff(rows, axis, language=language()), key="optimize_chart")


def downloads_ui(rows: list[dict], run_id: int) -> None:
    st.subheader(t("optimize.download"))
    columns = st.columns(3)
    for index, row in enumerate(rows):
        column = columns[index % len(columns)]
        path = Path(row["path"])
        if row["error"] or not path.exists():
            column.caption(t("optimize.no_file", variant=row["variant"]))
            continue
        column.download_button(
            t("optimize.download_variant", variant=row["variant"],
              megabytes=f"{path.stat().st_size / 1e6:.2f}"),
            data=lambda path=path: path.read_bytes(),  # read on click, not on every rerun
            file_name=f"lepton-run-{run_id}-{row['variant']}{path.suffix}",
            mime="application/octet-stream", on_click="ignore", icon=":material/download:",
            key=f"download_{row['variant']}", help=variant_note(row["variant"]),
        )


st.title(t("optimize.title"))
st.caption(t("optimize.intro"))
finished = finished_runs()
if not finished:
    st.info(t("optimize.no_runs"), icon=":material/info:")
    st.page_link("pages/train.py", label=t("optimize.train_link"),
                 icon=":material/model_training:")
    st.stop()

run, variants, repeats = choose_ui(finished)
measure_ui(run, variants, repeats)
document = load_measurements(get_store(), run["id"])
if document is None:
    st.caption(t("optimize.not_measured", run=run["id"]))
    st.stop()

rows = document["rows"]
for failed in (row for row in rows if row["error"]):
    st.error(t("optimize.variant_failed", variant=failed["variant"], reason=failed["error"]),
             icon=":material/error:")
table_ui(rows)
st.caption(method_text(document))
chart_ui(rows)
downloads_ui(rows, run["id"])
