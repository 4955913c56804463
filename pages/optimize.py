"""Optimize: export a run as TFLite fp32, fp16 and int8, measure each here, download them."""

from datetime import datetime
from pathlib import Path

import pandas as pd
import plotly.graph_objects as go
import streamlit as st

from lepton.data import DatasetUnavailable
from lepton.export import VARIANT_NOTES, VARIANTS, export_run, load_measurements
from pages.common import get_dataset, get_store, run_label

REPEAT_CHOICES = [200, 500, 1000, 2000, 5000]
CHART_AXES = {  # row key → axis title
    "bytes": "file size (bytes, log scale)",
    "p50_ms": "p50 latency of one image (ms, log scale)",
}


def choose_ui(runs: list[dict]) -> tuple[dict, list[str], int]:
    """The run, the variants and the latency repeats the user picked."""
    labels = {run["id"]: run_label(run) for run in runs}
    run_id = st.selectbox("Run", list(labels), format_func=labels.get, key="optimize_run")
    left, right = st.columns([2, 1])
    variants = left.multiselect(
        "Variants", VARIANTS, default=list(VARIANTS), key="optimize_variants",
        help=" · ".join(f"{name}: {VARIANT_NOTES[name]}" for name in VARIANTS),
    )
    repeats = right.select_slider(
        "Latency repeats per variant", REPEAT_CHOICES, value=1000, key="optimize_repeats",
        help="Single-image calls timed after a warm-up; p50 and p95 are taken over them.",
    )
    return next(run for run in runs if run["id"] == run_id), variants, repeats


def measure_ui(run: dict, variants: list[str], repeats: int) -> None:
    """The button that exports and measures, with a progress bar over the variants."""
    training = [other for other in get_store().list_runs() if other["status"] == "running"]
    if training:
        st.warning(f"Run {training[0]['id']} is training on this host right now: it shares the "
                   "CPU, so latencies and throughputs measured now come out worse.",
                   icon=":material/warning:")
    if not st.button("Export and measure", type="primary", icon=":material/speed:",
                     key="export_measure", disabled=not variants,
                     help="Converts the run's model into each variant, then measures size, "
                          "test accuracy, latency and throughput of all of them on this host."):
        return
    bar = st.progress(0.0, text="Loading the test set…")
    try:
        dataset = get_dataset(run["dataset"])
        export_run(get_store(), run, dataset, variants, repeats=repeats,
                   on_progress=lambda fraction, text: bar.progress(fraction, text=text))
    except (ValueError, DatasetUnavailable) as error:
        st.error(f"Could not export run {run['id']}: {error}", icon=":material/error:")
    finally:
        bar.empty()


def method_text(document: dict) -> str:
    method = document["method"]
    measured = datetime.fromisoformat(document["measured_at"]).strftime("%Y-%m-%d %H:%M UTC")
    load = ", ".join(f"{value:.2f}" for value in method["load_average"])
    return (
        f"Measured {measured} on {method['host']} ({method['cpu']}, {method['logical_cores']} "
        f"logical cores), {method['test_images']:,} {document['dataset']} test images. "
        f"Latency: p50/p95 of {method['repeats']:,} calls with one image after "
        f"{method['warmup']} warm-up calls, LiteRT on {method['single_image_threads']} thread. "
        f"Throughput: {method['batch_size']} ÷ median time of one batch of "
        f"{method['batch_size']}, LiteRT on {method['threads']} threads. The .keras row runs "
        f"Keras {method['keras']} through a traced tf.function; TFLite files run on "
        f"ai-edge-litert {method['litert']}. Load average then: {load}. int8-full calibrated "
        f"on {method['representative_samples']} training images."
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
    st.dataframe(table, hide_index=True, column_config={
        "size MB": st.column_config.NumberColumn(format="%.3f"),
        "vs .keras": st.column_config.NumberColumn(format="percent",
                                                   help="File size relative to the .keras file"),
        "accuracy": st.column_config.NumberColumn("test accuracy", format="percent"),
        "Δ accuracy": st.column_config.NumberColumn(
            "Δ accuracy (pp)", format="%+.2f",
            help="Test accuracy minus the .keras model's, in percentage points"),
        "top-1 agreement": st.column_config.NumberColumn(
            format="percent", help="Share of test images where the answer equals Keras'"),
        "p50 ms": st.column_config.NumberColumn(format="%.3f"),
        "p95 ms": st.column_config.NumberColumn(format="%.3f"),
        "img/s": st.column_config.NumberColumn("img/s (batch 256)", format="localized"),
        "convert s": st.column_config.NumberColumn(format="%.2f"),
    })


def tradeoff_chart(rows: list[dict], axis: str) -> go.Figure:
    """Test accuracy against size or latency, one labelled point per variant."""
    measured = [row for row in rows if row["error"] is None]
    figure = go.Figure()
    figure.add_scatter(
        x=[row[axis] for row in measured],
        y=[row["test_accuracy"] for row in measured],
        text=[row["variant"] for row in measured],
        mode="markers+text", textposition="top center", marker=dict(size=12),
        customdata=[[row["bytes"] / 1e6, row["p50_ms"], row["images_per_second"]]
                    for row in measured],
        hovertemplate="<b>%{text}</b><br>accuracy %{y:.2%}<br>size %{customdata[0]:.3f} MB"
                      "<br>p50 %{customdata[1]:.3f} ms<br>%{customdata[2]:,.0f} img/s"
                      "<extra></extra>",
    )
    figure.update_layout(
        title="Accuracy against " + ("size" if axis == "bytes" else "latency"),
        xaxis=dict(title=CHART_AXES[axis], type="log"),
        yaxis=dict(title="test accuracy", tickformat=".2%"),
        margin=dict(l=10, r=10, t=40, b=10), height=360,
    )
    return figure


def chart_ui(rows: list[dict]) -> None:
    axis = st.radio("Against", list(CHART_AXES), format_func=CHART_AXES.get, horizontal=True,
                    key="optimize_axis")
    st.plotly_chart(tradeoff_chart(rows, axis), key="optimize_chart")


def downloads_ui(rows: list[dict], run_id: int) -> None:
    st.subheader("Download")
    columns = st.columns(3)
    for index, row in enumerate(rows):
        column = columns[index % len(columns)]
        path = Path(row["path"])
        if row["error"] or not path.exists():
            column.caption(f"{row['variant']}: no file")
            continue
        column.download_button(
            f"{row['variant']} ({path.stat().st_size / 1e6:.2f} MB)",
            data=lambda path=path: path.read_bytes(),  # read on click, not on every rerun
            file_name=f"lepton-run-{run_id}-{row['variant']}{path.suffix}",
            mime="application/octet-stream", on_click="ignore", icon=":material/download:",
            key=f"download_{row['variant']}", help=VARIANT_NOTES[row["variant"]],
        )


st.title("Optimize")
st.caption("Compress a trained run into TFLite files and see what each costs and gains, "
           "measured now on this host: size, test accuracy, one-image latency, batch throughput.")
finished = [run for run in get_store().list_runs("done") if run["model_path"]]
if not finished:
    st.info("There is no finished run to export yet. Train one first.", icon=":material/info:")
    st.page_link("pages/train.py", label="Train a model", icon=":material/model_training:")
    st.stop()

run, variants, repeats = choose_ui(finished)
measure_ui(run, variants, repeats)
document = load_measurements(get_store(), run["id"])
if document is None:
    st.caption(f"Run {run['id']} has not been measured yet: press *Export and measure*.")
    st.stop()

rows = document["rows"]
for failed in (row for row in rows if row["error"]):
    st.error(f"{failed['variant']} failed: {failed['error']}", icon=":material/error:")
table_ui(rows)
st.caption(method_text(document))
chart_ui(rows)
downloads_ui(rows, run["id"])
