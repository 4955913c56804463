"""Lepton dashboard: the router and the sidebar every page shares."""

import streamlit as st

from pages import common

st.set_page_config(page_title="Lepton", page_icon=":material/biotech:", layout="wide")

pages = {
    "Lepton": [
        st.Page("pages/home.py", title="Home", icon=":material/home:", default=True),
    ],
    "Train and compare": [
        st.Page("pages/train.py", title="Train", icon=":material/model_training:"),
        st.Page("pages/runs.py", title="Runs", icon=":material/leaderboard:"),
        st.Page("pages/data.py", title="Data", icon=":material/dataset:"),
    ],
    "Use the model": [
        st.Page("pages/predict.py", title="Predict", icon=":material/draw:"),
        st.Page("pages/evaluate.py", title="Evaluate", icon=":material/grid_on:"),
    ],
    "Understand it": [
        st.Page("pages/architecture.py", title="Architecture", icon=":material/account_tree:"),
        st.Page("pages/formula_lab.py", title="Formula lab", icon=":material/function:"),
    ],
    "Speed and cost": [
        st.Page("pages/optimize.py", title="Optimize", icon=":material/compress:"),
        st.Page("pages/scaling.py", title="Single vs many", icon=":material/hub:"),
    ],
}
navigation = st.navigation(pages)
common.sidebar_ui()
navigation.run()
