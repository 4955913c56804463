"""Data: import a zip of class folders or an .npz, see what came in, list and delete datasets."""

import re

import pandas as pd
import streamlit as st

from lepton import charts
from lepton.data import custom_manifest, delete_dataset, describe_datasets, sample_strips
from lepton.i18n import recorded
from lepton.importer import (
    MAX_UPLOAD_BYTES,
    DatasetImportError,
    check_upload_size,
    import_npz,
    import_zip,
)
from lepton.ops import shape_text
from pages.common import (
    clear_datasets,
    get_dataset,
    get_store,
    language,
    preparation_text,
    reason,
    say,
    t,
)

SIZES = (16, 24, 28, 32, 48, 64, 96, 128)
CHANNELS = {1: "data.grayscale", 3: "data.rgb"}  # channels → catalogue key of its name
KINDS = {"built-in": "data.kind_built_in", "imported": "data.kind_imported"}
SKIPPED = {"unreadable": "data.skipped_unreadable", "duplicate": "data.skipped_duplicate",
           "ignored": "data.skipped_ignored"}
PREPROCESSING = {"digit": "data.preprocessing_digit", "plain": "data.preprocessing_plain"}
def upload_limit() -> int:
    """Bytes one upload may have: the server's maxUploadSize, never above the importer's limit."""
    return min(MAX_UPLOAD_BYTES, int(st.get_option("server.maxUploadSize")) * 2**20)


def suggested_name(file_name: str) -> str:
    stem = re.sub(r"\.(zip|npz)$", "", file_name.lower())
    name = re.sub(r"[^a-z0-9_-]+", "-", stem).strip("-_")[:40]
    return name or "my-data"


def split_text(manifest: dict) -> str:
    """How a dataset was split, in the chosen language (manifests from before Lepton recorded
    the message keep their English text)."""
    return say(recorded(manifest, "split"))


def import_ui() -> None:
    """The import form; on success remembers the new dataset and reruns (the sidebar lists it)."""
    upload = st.file_uploader(
        t("data.upload"), type=["zip", "npz"], key="data_upload",
        help=t("data.upload_help", megabytes=f"{upload_limit() / 2**20:.0f}"),
    )
    suggested = suggested_name(upload.name) if upload else "my-data"
    left, middle, right = st.columns(3)
    name = left.text_input(t("data.name"), key="data_name", placeholder=suggested, max_chars=40,
                           help=t("data.name_help"))
    digit_like = left.checkbox(t("data.digit_like"), key="data_digit",
                               help=t("data.digit_like_help"))
    size = middle.select_slider(t("data.input_size"), SIZES, value=28, key="data_size",
                                disabled=digit_like)
    # Names looked up now, in this run's language: format_func is also called later.
    channel_names = {value: t(key) for value, key in CHANNELS.items()}
    channels = middle.radio(t("data.channels"), list(channel_names),
                            format_func=channel_names.get, horizontal=True,
                            key="data_channels", disabled=digit_like)
    test_fraction = right.slider(t("data.test_share"), 0.05, 0.5, 0.2, 0.05,
                                 key="data_test_fraction", help=t("data.test_share_help"))
    overwrite = right.checkbox(t("data.overwrite"), key="data_overwrite")
    if digit_like:
        size, channels = 28, 1
    if not st.button(t("data.import_button"), type="primary", icon=":material/upload:",
                     key="data_import", disabled=upload is None):
        return
    bar = st.progress(0.0, text=t("data.checking"))
    try:
        check_upload_size(upload.size, upload_limit())
        data = upload.getvalue()
        check_upload_size(len(data), upload_limit())  # what arrived, not what was announced
        load = import_npz if upload.name.lower().endswith(".npz") else import_zip
        manifest = load(data, name.strip() or suggested, home=get_store().home,
                        size=(size, size), channels=channels, test_fraction=test_fraction,
                        digit_like=digit_like, overwrite=overwrite, source_name=upload.name,
                        on_progress=lambda fraction, text: bar.progress(
                            min(fraction, 1.0), text=text.text(language())))
    except DatasetImportError as error:
        bar.empty()
        st.error(t("data.not_imported", reason=reason(error)), icon=":material/block:")
        return
    except OSError as error:  # e.g. a full disk: the importer has removed its temporary files
        bar.empty()
        st.error(t("data.import_failed", reason=str(error)), icon=":material/error:")
        return
    clear_datasets()  # a replaced dataset must not come back from the cache
    counts = manifest["counts"]
    st.session_state["data_notice"] = t(
        "data.imported", name=manifest["name"], train=f"{counts['train']:,}",
        test=f"{counts['test']:,}", classes=len(manifest["classes"]))
    st.session_state["data_inspect"] = manifest["name"]
    st.rerun()


def select_for_training(name: str) -> None:
    st.session_state["dataset"] = name


def report_ui(name: str) -> None:
    """Counts, class balance, samples per class and every skipped file of an imported dataset."""
    manifest = custom_manifest(name, get_store().home)
    if manifest is None:
        return
    counts = manifest["counts"]
    height, width, channels = manifest["input_shape"]
    columns = st.columns(6)
    columns[0].metric(t("data.training_images"), f"{counts['train']:,}")
    columns[1].metric(t("data.test_images"), f"{counts['test']:,}")
    columns[2].metric(t("data.classes"), len(manifest["classes"]))
    columns[3].metric(t("data.input"), shape_text((height, width, channels)),
                      help=t("data.input_help", colour=t(CHANNELS[channels])))
    columns[4].metric(t("data.duplicates"), counts["duplicates"],
                      help=t("data.duplicates_kept_help" if manifest.get("duplicates_kept")
                             else "data.duplicates_help"))
    columns[5].metric(t("data.unreadable"), counts["unreadable"])
    st.caption(t("data.provenance_caption",
                 preparation=preparation_text(manifest["preprocessing"], manifest["input_shape"]),
                 split=split_text(manifest), source=manifest["source_file"],
                 bytes=f"{manifest['source_bytes']:,}", sha256=manifest["source_sha256"],
                 created=manifest["created"]))
    chart, samples = st.columns([2, 3])
    chart.plotly_chart(charts.class_balance(counts["per_class"], language=language()),
                       key="class_balance")
    with samples:
        st.markdown(t("data.samples"))
        try:
            strips = sample_strips(get_dataset(name), per_class=8, scale=2)
        except (OSError, ValueError) as error:  # files changed or damaged outside the app
            st.warning(t("data.cannot_load", name=name, reason=str(error)),
                       icon=":material/broken_image:")
            strips = []
        for class_name, strip in strips:
            st.image(strip, caption=class_name)
    skipped = ([{"file": item["file"], "skipped as": "unreadable", "why": item["reason"]}
                for item in manifest["unreadable"]]
               + [{"file": item["file"], "skipped as": "duplicate",
                   "why": t("data.same_bytes", file=item["same_as"])}
                  for item in manifest["duplicates"]]
               + [{"file": item["file"], "skipped as": "ignored", "why": item["reason"]}
                  for item in manifest["ignored"]])
    total = counts["unreadable"] + counts["duplicates"] + counts["ignored"]
    if total:
        with st.expander(t("data.skipped_files", total=total), icon=":material/report:"):
            table = pd.DataFrame(skipped)
            if not table.empty:
                table["skipped as"] = table["skipped as"].map(lambda value: t(SKIPPED[value]))
            st.dataframe(table, hide_index=True, key="skipped_files", column_config={
                "file": st.column_config.TextColumn(t("data.column_file")),
                "skipped as": st.column_config.TextColumn(t("data.column_skipped_as")),
                "why": st.column_config.TextColumn(t("data.column_why")),
            })
            if total > len(skipped):
                st.caption(t("data.first_named", named=len(skipped), total=total))
    if st.button(t("data.train_on", name=name), icon=":material/model_training:",
                 key="data_train", on_click=select_for_training, args=(name,)):
        st.switch_page("pages/train.py")


def datasets_table_ui() -> None:
    rows = []
    for item in describe_datasets(get_store().home):
        rows.append({
            "name": item["name"],
            "kind": t(KINDS[item["kind"]]) if item["kind"] in KINDS else item["kind"],
            "available": item["available"],
            "train images": item["train_samples"],
            "test images": item["test_samples"],
            "classes": item["num_classes"],
            "input": shape_text(item["input_shape"]),
            "preprocessing": (t(PREPROCESSING[item["preprocessing"]])
                              if item["preprocessing"] in PREPROCESSING
                              else item["preprocessing"]),
            "provenance": say(item["where"]),
        })
    # Column names stay stable; the headers shown follow the language.
    st.dataframe(pd.DataFrame(rows), hide_index=True, key="datasets_table", column_config={
        "name": st.column_config.TextColumn(t("data.column_name")),
        "kind": st.column_config.TextColumn(t("data.column_kind")),
        "available": st.column_config.CheckboxColumn(t("data.column_available"),
                                                     help=t("data.available_help")),
        "train images": st.column_config.NumberColumn(t("data.column_train_images"),
                                                      format="%d"),
        "test images": st.column_config.NumberColumn(t("data.column_test_images"), format="%d"),
        "classes": st.column_config.NumberColumn(t("data.column_classes")),
        "input": st.column_config.TextColumn(t("data.column_input")),
        "preprocessing": st.column_config.TextColumn(t("data.column_preprocessing")),
        "provenance": st.column_config.TextColumn(t("data.column_provenance"), width="large"),
    })


def delete_now(name: str) -> None:
    """Button callback: runs before the page, so the sidebar no longer lists the dataset."""
    delete_dataset(name, get_store().home)
    clear_datasets()
    st.session_state["delete_confirm"] = False
    st.session_state["data_notice"] = t("data.deleted", name=name)


def delete_ui(imported: list[str]) -> None:
    name = st.selectbox(t("data.imported_dataset"), imported, key="delete_choice")
    sure = st.checkbox(t("data.delete_confirm", name=name), key="delete_confirm")
    st.button(t("data.delete"), icon=":material/delete:", key="delete_dataset", disabled=not sure,
              on_click=delete_now, args=(name,))


st.title(t("data.title"))
st.caption(t("data.intro"))
notice = st.session_state.pop("data_notice", None)
if notice:
    st.success(notice, icon=":material/check_circle:")

st.subheader(t("data.import_heading"))
import_ui()

imported = [item["name"] for item in describe_datasets(get_store().home)
            if item["kind"] == "imported"]
if imported:
    st.subheader(t("data.report"))
    if st.session_state.get("data_inspect") not in imported:
        st.session_state["data_inspect"] = imported[-1]
    inspected = st.selectbox(t("data.imported_dataset"), imported, key="data_inspect")
    report_ui(inspected)

st.subheader(t("data.all_datasets"))
datasets_table_ui()
if imported:
    with st.expander(t("data.delete_heading"), icon=":material/delete:"):
        delete_ui(imported)
