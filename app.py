"""Lepton dashboard: the router and the sidebar every page shares."""

import streamlit as st

from pages import common
from pages.common import t


def main() -> None:
    """Declares the pages and the shared sidebar, then runs the chosen page."""
    st.set_page_config(page_title="Lepton", page_icon=":material/biotech:", layout="wide")

    # Before the pages are declared: their titles and sections follow the chosen language.
    common.language_ui()
    pages = {
        "Lepton": [
            st.Page("pages/home.py", title=t("nav.home"), icon=":material/home:", default=True),
        ],
        t("nav.section_train"): [
            st.Page("pages/train.py", title=t("nav.train"), icon=":material/model_training:"),
            st.Page("pages/runs.py", title=t("nav.runs"), icon=":material/leaderboard:"),
            st.Page("pages/data.py", title=t("nav.data"), icon=":material/dataset:"),
        ],
        t("nav.section_use"): [
            st.Page("pages/predict.py", title=t("nav.predict"), icon=":material/draw:"),
            st.Page("pages/evaluate.py", title=t("nav.evaluate"), icon=":material/grid_on:"),
        ],
        t("nav.section_understand"): [
            st.Page("pages/architecture.py", title=t("nav.architecture"),
                    icon=":material/account_tree:"),
            st.Page("pages/formula_lab.py", title=t("nav.formula_lab"), icon=":material/function:"),
        ],
        t("nav.section_speed"): [
            st.Page("pages/optimize.py", title=t("nav.optimize"), icon=":material/compress:"),
            st.Page("pages/scaling.py", title=t("nav.scaling"), icon=":material/hub:"),
            st.Page("pages/balance.py", title=t("nav.balance"), icon=":material/balance:"),
        ],
    }
    navigation = st.navigation(pages)
    common.sidebar_ui(page_follows_runs=navigation.url_path == "train")
    # Its processes load TensorFlow while the first page is read, so the Train page's model
    # numbers and the first prediction need not wait for them (the server never loads it).
    common.get_work_pool()
    navigation.run()


# Streamlit runs this file as __main__. A work-pool process, being spawned, runs it again as
# __mp_main__ as it starts: it must not start a server's pool of its own, or draw a page.
if __name__ == "__main__":
    main()
