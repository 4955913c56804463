"""Home: what Lepton is, which data it uses, what this host is, the latest runs."""

import pandas as pd
import streamlit as st

from lepton.data import describe_datasets
from lepton.host import host_info
from pages.common import get_store, selected_dataset

st.title("Lepton")
st.markdown(
    "See, on this machine, how a small convolutional network trades **speed, cost and "
    "accuracy**. Train the reference CNN from the article (Conv32 → MaxPool → Conv64 → MaxPool → "
    "Dense128 → Dense10), watch it learn, and predict your own handwritten digits. Every number "
    "shown is measured on this host."
)

left, right = st.columns(2)
with left:
    st.subheader("Data")
    chosen = selected_dataset()
    for item in describe_datasets():
        marker = "➜ " if item["name"] == chosen else ""
        status = "available" if item["available"] else "not available offline"
        st.markdown(f"{marker}**{item['name']}** — {status}: {item['where']}")
    st.caption("Change the dataset in the sidebar. Each run records where its data came from.")
with right:
    st.subheader("This host")
    host = host_info()
    st.markdown(
        f"- CPU: {host['cpu']}\n"
        f"- Cores: {host['physical_cores']} physical, {host['logical_cores']} logical\n"
        f"- Memory: {host['memory_bytes'] / 2**30:.1f} GiB\n"
        f"- {host['system']}, Python {host['python']}, TensorFlow {host['tensorflow']}, "
        f"Keras {host['keras']}"
    )

st.subheader("Latest runs")
runs = get_store().list_runs()[:10]
if not runs:
    st.info("No runs yet. Train one on the **Train** page, or quick-train on **Predict**.")
else:
    st.dataframe(
        pd.DataFrame(
            [
                {
                    "run": run["id"],
                    "status": run["status"],
                    "dataset": run["dataset"],
                    "test accuracy": run["metrics"].get("test_accuracy"),
                    "wall s": run["timings"].get("wall_seconds"),
                    "samples/s": run["timings"].get("samples_per_second"),
                    "created (UTC)": run["created"],
                }
                for run in runs
            ]
        ),
        hide_index=True,
        column_config={
            "test accuracy": st.column_config.NumberColumn(format="percent"),
            "wall s": st.column_config.NumberColumn(format="%.1f"),
            "samples/s": st.column_config.NumberColumn(format="%.0f"),
        },
    )
