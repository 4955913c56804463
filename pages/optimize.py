"""Optimize: export a run as TFLite fp32, fp16 and int8, measure each here, download them."""

from datetime import datetime
from pathlib import Path

import pandas as pd
import streamlit as st

from lepton import charts, pruning_charts
from lepton.background import text_of
from lepton.export import (
    VARIANT_NOTES,
    VARIANTS,
    export_progress,
    load_measurements,
    start_export,
)
from lepton.jobs import TrainingBusy
from lepton.pruning import SCHEDULES, SCOPES, PruneSpec, pruned_children, start_pruning
from lepton.registry import is_active
from pages.common import (
    finished_runs,
    get_jobs,
    get_snapshot,
    get_store,
    language,
    reason,
    run_label,
    t,
)

REPEAT_CHOICES = [200, 500, 1000, 2000, 5000]
SPARSITIES = (0.5, 0.6, 0.7, 0.8, 0.9, 0.95)
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


def prune_ui(run: dict) -> None:
    """Prune the chosen run to a sparsity and fine-tune it (a new run, in a worker process),
    then compare every pruned run of it with the parent, as fp32 and with int8."""
    st.subheader(t("optimize.prune"))
    st.caption(t("optimize.prune_intro"))
    spec = run["train_config"].get("prune")
    if spec:
        st.info(t("optimize.prune_is_pruned", id=run["id"], parent=spec["parent_run_id"],
                  sparsity=f"{run['metrics'].get('sparsity', 0):.1%}"), icon=":material/info:")
        return
    columns = st.columns(4)
    sparsity = columns[0].select_slider(t("optimize.prune_sparsity"), SPARSITIES, value=0.8,
                                        format_func=lambda value: f"{value:.0%}",
                                        key="prune_sparsity")
    epochs = columns[1].slider(t("optimize.prune_epochs"), 1, 10, 3, key="prune_epochs",
                               help=t("optimize.prune_epochs_help"))
    # Labels resolved now: a format_func calling t() later could meet another language.
    schedules = {name: t(f"optimize.prune_{name}") for name in SCHEDULES}
    scopes = {name: t(f"optimize.prune_scope_{name}") for name in SCOPES}
    schedule = columns[2].selectbox(t("optimize.prune_schedule"), SCHEDULES,
                                    format_func=schedules.get, key="prune_schedule")
    scope = columns[3].selectbox(t("optimize.prune_scope"), SCOPES, format_func=scopes.get,
                                 key="prune_scope")
    latest = get_snapshot().latest()
    active = bool(latest and is_active(latest))
    st.fragment(run_every=1.0 if active else None)(prune_status)(active)
    if not active and st.button(t("optimize.prune_start"), type="primary",
                                icon=":material/content_cut:", key="prune_start"):
        try:
            start_pruning(get_jobs(), run, PruneSpec(run["id"], sparsity, epochs, schedule,
                                                     scope))
        except (ValueError, TrainingBusy) as error:
            st.warning(reason(error))
            return
        st.rerun()
    children = pruned_children(get_snapshot().runs(), run["id"])
    if not children:
        st.caption(t("optimize.prune_none", id=run["id"]))
        return
    pruned_table_ui(children)
    left, right = st.columns(2)
    left.plotly_chart(pruning_charts.tradeoff_figure(children, "size", language()),
                      key="prune_size")
    right.plotly_chart(pruning_charts.tradeoff_figure(children, "latency", language()),
                       key="prune_latency")
    st.caption(t("optimize.prune_caption"))
    labels = {child["id"]: t("optimize.prune_child", id=child["id"],
                             sparsity=f"{child['metrics']['sparsity']:.1%}")
              for child in children}
    chosen = st.selectbox(t("optimize.prune_inspect"), list(labels), format_func=labels.get,
                          key="prune_child")
    child = next(item for item in children if item["id"] == chosen)
    st.plotly_chart(pruning_charts.histogram_figure(child["metrics"]["weight_histograms"],
                                                    language()), key="prune_histogram")
    folder = Path(child["model_path"]).parent
    for name, suffix in (("model.keras", "keras"), ("model.tflite", "tflite"),
                         ("model-int8-dynamic.tflite", "int8.tflite")):
        path = folder / name
        if path.is_file():
            st.download_button(t("optimize.prune_download", file=name, id=child["id"]),
                               data=lambda path=path: path.read_bytes(),
                               file_name=f"lepton-run-{child['id']}-pruned.{suffix}",
                               mime="application/octet-stream", on_click="ignore",
                               icon=":material/download:", key=f"prune_download_{suffix}")


def prune_status(was_active: bool) -> None:
    latest = get_snapshot().latest()
    active = bool(latest and is_active(latest))
    if was_active and not active:
        st.rerun(scope="app")
    if active:
        progress = latest["progress"]
        st.progress(progress.get("fraction") or 0.0,
                    text=t("optimize.prune_running", id=latest["id"],
                           stage=progress.get("stage", "")))


def pruned_table_ui(children: list[dict]) -> None:
    first = children[0]["metrics"]
    rows = [{t("optimize.prune_column_model"): t("optimize.prune_parent",
                                                  id=first.get("parent_run_id")),
             t("optimize.prune_column_sparsity"): 0.0,
             t("optimize.column_accuracy"): first.get("parent_test_accuracy"),
             t("optimize.prune_column_gzip"): first.get("parent_gzip_bytes"),
             t("optimize.prune_column_int8_gzip"): first.get("parent_int8_gzip_bytes"),
             t("optimize.prune_column_int8_accuracy"): first.get("parent_int8_test_accuracy"),
             t("optimize.column_p50"): first.get("parent_latency_ms")}]
    for child in children:
        metrics = child["metrics"]
        rows.append({t("optimize.prune_column_model"): t("optimize.prune_child",
                                                          id=child["id"],
                                                          sparsity=f"{metrics['sparsity']:.1%}"),
                     t("optimize.prune_column_sparsity"): metrics["sparsity"],
                     t("optimize.column_accuracy"): metrics["test_accuracy"],
                     t("optimize.prune_column_gzip"): metrics.get("gzip_bytes"),
                     t("optimize.prune_column_int8_gzip"): metrics.get("int8_gzip_bytes"),
                     t("optimize.prune_column_int8_accuracy"): metrics.get("int8_test_accuracy"),
                     t("optimize.column_p50"): metrics.get("latency_ms")})
    number = st.column_config.NumberColumn
    st.dataframe(pd.DataFrame(rows), hide_index=True, key="pruned_table", column_config={
        t("optimize.prune_column_sparsity"): number(format="percent"),
        t("optimize.column_accuracy"): number(format="percent"),
        t("optimize.prune_column_int8_accuracy"): number(format="percent"),
        t("optimize.prune_column_gzip"): number(format="localized"),
        t("optimize.prune_column_int8_gzip"): number(format="localized"),
        t("optimize.column_p50"): number(format="%.4f")})


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
else:
    rows = document["rows"]
    for failed in (row for row in rows if row["error"]):
        st.error(t("optimize.variant_failed", variant=failed["variant"], reason=failed["error"]),
                 icon=":material/error:")
    table_ui(rows)
    st.caption(method_text(document))
    chart_ui(rows)
    downloads_ui(rows, run["id"])
prune_ui(run)
