"""Lepton dashboard: the router and the sidebar every page shares."""

import streamlit as st

from pages import common

st.set_page_config(page_title="Lepton", page_icon="🔬", layout="wide")

pages = [
    st.Page("pages/home.py", title="Home", icon="🏠", default=True),
    st.Page("pages/train.py", title="Train", icon="🏋️"),
    st.Page("pages/predict.py", title="Predict", icon="✍️"),
]
navigation = st.navigation(pages)
common.sidebar_ui()
navigation.run()
