"""Home: what Lepton is, which data it uses, what this host is, the latest runs."""

import pandas as pd
import streamlit as st

from lepton.data import describe_datasets
from lepton.host import host_info
from pages.common import get_snapshot, say, selected_dataset, status_label, t

st.title("Lepton")  # the product's name, the same in every language
st.markdown(t("home.intro"))

left, right = st.columns(2)
with left:
    st.subheader(t("home.data"))
    chosen = selected_dataset()
    for item in describe_datasets():
        marker = "➜ " if item["name"] == chosen else ""
        status = t("home.available") if item["available"] else t("home.not_available")
        st.markdown(t("home.dataset_line", marker=marker, name=item["name"], status=status,
                      where=say(item["where"])))
    st.caption(t("home.data_caption"))
with right:
    st.subheader(t("home.host"))
    host = host_info()
    st.markdown(t("home.host_details", cpu=host["cpu"], physical=host["physical_cores"],
                  logical=host["logical_cores"], memory=f"{host['memory_bytes'] / 2**30:.1f}",
                  system=host["system"], python=host["python"], tensorflow=host["tensorflow"],
                  keras=host["keras"]))

st.subheader(t("home.latest_runs"))
runs = get_snapshot().runs()[:10]
if not runs:
    st.info(t("home.no_runs"))
else:
    st.dataframe(
        pd.DataFrame(
            [
                {
                    "run": run["id"],
                    "status": status_label(run["status"]),
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
            "run": st.column_config.NumberColumn(t("home.column_run")),
            "status": st.column_config.TextColumn(t("home.column_status")),
            "dataset": st.column_config.TextColumn(t("home.column_dataset")),
            "test accuracy": st.column_config.NumberColumn(t("home.column_accuracy"),
                                                           format="percent"),
            "wall s": st.column_config.NumberColumn(t("home.column_wall"), format="%.1f"),
            "samples/s": st.column_config.NumberColumn(t("home.column_speed"), format="%.0f"),
            "created (UTC)": st.column_config.TextColumn(t("home.column_created")),
        },
    )
