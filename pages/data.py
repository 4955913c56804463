"""Data: import a zip of class folders or an .npz, see what came in, list and delete datasets."""

import re

import pandas as pd
import streamlit as st

from lepton import charts
from lepton.data import custom_manifest, delete_dataset, describe_datasets, sample_strips
from lepton.imaging import preparer
from lepton.importer import (MAX_UPLOAD_BYTES, DatasetImportError, check_upload_size, import_npz,
                             import_zip)
from pages.common import get_dataset, get_store

SIZES = (16, 24, 28, 32, 48, 64, 96, 128)
CHANNELS = {1: "grayscale", 3: "RGB"}


def upload_limit() -> int:
    """Bytes one upload may have: the server's maxUploadSize, never above the importer's limit."""
    return min(MAX_UPLOAD_BYTES, int(st.get_option("server.maxUploadSize")) * 2**20)


def suggested_name(file_name: str) -> str:
    stem = re.sub(r"\.(zip|npz)$", "", file_name.lower())
    name = re.sub(r"[^a-z0-9_-]+", "-", stem).strip("-_")[:40]
    return name or "my-data"


def import_ui() -> None:
    """The import form; on success remembers the new dataset and reruns (the sidebar lists it)."""
    upload = st.file_uploader(
        "A .zip of class folders (cats/001.png, dogs/…) or an .npz (x_train, y_train, x_test, "
        "y_test, optional class_names)",
        type=["zip", "npz"], key="data_upload",
        help=f"At most {upload_limit() / 2**20:.0f} MB. Larger sets: python -m lepton datasets "
             "import PATH --name NAME.",
    )
    suggested = suggested_name(upload.name) if upload else "my-data"
    left, middle, right = st.columns(3)
    name = left.text_input("Name", key="data_name", placeholder=suggested, max_chars=40,
                           help="Lower-case letters, digits, '-' and '_'. Empty: the suggestion.")
    digit_like = left.checkbox(
        "Digit-like (MNIST-style centring)", key="data_digit",
        help="Dark or light strokes on a plain background, like handwritten digits: pictures are "
             "cropped to the ink and centred in 28×28 grayscale, and so are pictures to predict. "
             "Otherwise every picture is simply resized.")
    size = middle.select_slider("Input size (pixels per side)", SIZES, value=28, key="data_size",
                                disabled=digit_like)
    channels = middle.radio("Channels", list(CHANNELS), format_func=CHANNELS.get, horizontal=True,
                            key="data_channels", disabled=digit_like)
    test_fraction = right.slider("Test share", 0.05, 0.5, 0.2, 0.05, key="data_test_fraction",
                                 help="Held out per class (seeded) when the source has no "
                                      "train/test split of its own.")
    overwrite = right.checkbox("Replace a dataset of the same name", key="data_overwrite")
    if digit_like:
        size, channels = 28, 1
    if not st.button("Import", type="primary", icon=":material/upload:", key="data_import",
                     disabled=upload is None):
        return
    bar = st.progress(0.0, text="Checking the file…")
    try:
        check_upload_size(upload.size, upload_limit())
        data = upload.getvalue()
        check_upload_size(len(data), upload_limit())  # what arrived, not what was announced
        load = import_npz if upload.name.lower().endswith(".npz") else import_zip
        manifest = load(data, name.strip() or suggested, home=get_store().home,
                        size=(size, size), channels=channels, test_fraction=test_fraction,
                        digit_like=digit_like, overwrite=overwrite, source_name=upload.name,
                        on_progress=lambda fraction, text: bar.progress(min(fraction, 1.0),
                                                                        text=text))
    except DatasetImportError as error:
        bar.empty()
        st.error(f"Not imported: {error}", icon=":material/block:")
        return
    except OSError as error:  # e.g. a full disk: the importer has removed its temporary files
        bar.empty()
        st.error(f"The import failed and nothing was kept: {error}", icon=":material/error:")
        return
    get_dataset.clear()  # a replaced dataset must not come back from the cache
    counts = manifest["counts"]
    st.session_state["data_notice"] = (
        f"Imported **{manifest['name']}**: {counts['train']:,} training and {counts['test']:,} "
        f"test images in {len(manifest['classes'])} classes. Choose it in the sidebar to train.")
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
    columns[0].metric("Training images", f"{counts['train']:,}")
    columns[1].metric("Test images", f"{counts['test']:,}")
    columns[2].metric("Classes", len(manifest["classes"]))
    columns[3].metric("Input", f"{height}×{width}×{channels}",
                      help=f"{CHANNELS[channels]}; the model's input layer follows it.")
    columns[4].metric("Duplicates skipped", counts["duplicates"],
                      help="Files with the same bytes as an earlier one"
                           + (" (counted, kept as given in the .npz)."
                              if manifest.get("duplicates_kept") else "."))
    columns[5].metric("Unreadable files", counts["unreadable"])
    _, preparation = preparer(manifest["preprocessing"], manifest["input_shape"])
    st.caption(f"Preprocessing: {preparation}; Predict prepares new pictures the same way. "
               f"Split: {manifest['split']}. Source: {manifest['source_file']} "
               f"({manifest['source_bytes']:,} bytes, sha256 `{manifest['source_sha256']}`), "
               f"imported {manifest['created']}.")
    chart, samples = st.columns([2, 3])
    chart.plotly_chart(charts.class_balance(counts["per_class"]), key="class_balance")
    with samples:
        st.markdown("**Samples per class** (training images, as the model sees them)")
        try:
            strips = sample_strips(get_dataset(name), per_class=8, scale=2)
        except (OSError, ValueError) as error:  # files changed or damaged outside the app
            st.warning(f"{name} cannot be loaded: {error}", icon=":material/broken_image:")
            strips = []
        for class_name, strip in strips:
            st.image(strip, caption=class_name)
    skipped = ([{"file": item["file"], "skipped as": "unreadable", "why": item["reason"]}
                for item in manifest["unreadable"]]
               + [{"file": item["file"], "skipped as": "duplicate",
                   "why": f"same bytes as {item['same_as']}"} for item in manifest["duplicates"]]
               + [{"file": item["file"], "skipped as": "ignored", "why": item["reason"]}
                  for item in manifest["ignored"]])
    total = counts["unreadable"] + counts["duplicates"] + counts["ignored"]
    if total:
        with st.expander(f"Skipped files ({total})", icon=":material/report:"):
            st.dataframe(pd.DataFrame(skipped), hide_index=True, key="skipped_files")
            if total > len(skipped):
                st.caption(f"The first {len(skipped)} are named here; all {total} are counted.")
    if st.button(f"Train on {name}", icon=":material/model_training:", key="data_train",
                 on_click=select_for_training, args=(name,)):
        st.switch_page("pages/train.py")


def datasets_table_ui() -> None:
    rows = []
    for item in describe_datasets(get_store().home):
        rows.append({
            "name": item["name"],
            "kind": item["kind"],
            "available": item["available"],
            "train images": item["train_samples"],
            "test images": item["test_samples"],
            "classes": item["num_classes"],
            "input": "×".join(map(str, item["input_shape"])),
            "preprocessing": item["preprocessing"],
            "provenance": item["where"],
        })
    st.dataframe(pd.DataFrame(rows), hide_index=True, key="datasets_table", column_config={
        "available": st.column_config.CheckboxColumn(help="Loads on this host now (offline)."),
        "train images": st.column_config.NumberColumn(format="%d"),
        "test images": st.column_config.NumberColumn(format="%d"),
        "provenance": st.column_config.TextColumn(width="large"),
    })


def delete_now(name: str) -> None:
    """Button callback: runs before the page, so the sidebar no longer lists the dataset."""
    delete_dataset(name, get_store().home)
    get_dataset.clear()
    st.session_state["delete_confirm"] = False
    st.session_state["data_notice"] = f"Deleted **{name}**."


def delete_ui(imported: list[str]) -> None:
    name = st.selectbox("Imported dataset", imported, key="delete_choice")
    sure = st.checkbox(f"Yes, delete {name} and its files for good", key="delete_confirm")
    st.button("Delete", icon=":material/delete:", key="delete_dataset", disabled=not sure,
              on_click=delete_now, args=(name,))


st.title("Data")
st.caption("Bring your own labelled images: zip one folder per class, upload, check the report, "
           "then train on it. Archives are read in memory with size limits; nothing is "
           "extracted, and a refused or failed import leaves nothing behind.")
notice = st.session_state.pop("data_notice", None)
if notice:
    st.success(notice, icon=":material/check_circle:")

st.subheader("Import")
import_ui()

imported = [item["name"] for item in describe_datasets(get_store().home)
            if item["kind"] == "imported"]
if imported:
    st.subheader("Report")
    if st.session_state.get("data_inspect") not in imported:
        st.session_state["data_inspect"] = imported[-1]
    inspected = st.selectbox("Imported dataset", imported, key="data_inspect")
    report_ui(inspected)

st.subheader("All datasets")
datasets_table_ui()
if imported:
    with st.expander("Delete an imported dataset", icon=":material/delete:"):
        delete_ui(imported)
