"""Lepton dashboard: the router and the sidebar every page shares."""

import streamlit as st

from pages import common

st.set_page_config(page_title="Lepton", page_icon=":material/biotech:", layout="wide")

pages = [
    st.Page("pages/home.py", title="Home", icon=":material/home:", default=True),
    st.Page("pages/train.py", title="Train", icon=":material/model_training:"),
    st.Page("pages/runs.py", title="Runs", icon=":material/leaderboard:"),
    st.Page("pages/predict.py", title="Predict", icon=":material/draw:"),
    st.Page("pages/evaluate.py", title="Evaluate", icon=":material/grid_on:"),
    st.Page("pages/architecture.py", title="Architecture", icon=":material/account_tree:"),
    st.Page("pages/formula_lab.py", title="Formula lab", icon=":material/function:"),
]
navigation = st.navigation(pages)
common.sidebar_ui()
navigation.run()
