"""Predict, Evaluate, Data and Optimize render in English and 简体中文 under AppTest."""

import io
import json
import re

import pytest
from PIL import Image, ImageDraw
from streamlit.testing.v1 import AppTest

from lepton.export import VARIANT_NOTES
from lepton.i18n import catalogue
from tests.app.session import keep_language, open_page, wait_for_export
from tests.shape_images import shapes_zip

HAN = re.compile(r"[\u4e00-\u9fff]")
TITLES = {"pages/predict.py": "Predict", "pages/evaluate.py": "Evaluate",
          "pages/data.py": "Data", "pages/optimize.py": "Optimize"}


def chinese(text: str) -> bool:
    return bool(HAN.search(text))


def figure_texts(at: AppTest, key: str) -> list[str]:
    """The title and axis titles of the Plotly chart `key`."""
    (chart,) = [chart for chart in at.get("plotly_chart") if chart.key == key]
    layout = json.loads(chart.proto.spec)["layout"]
    titles = [layout.get(part, {}).get("title", {}) for part in ("xaxis", "yaxis")]
    titles.append(layout.get("title", {}))
    return [title["text"] for title in titles if title.get("text")]


@pytest.mark.parametrize("page", list(TITLES))
def test_pages_without_runs_in_both_languages(lepton_home, page):
    english = open_page(page, "en")
    assert english.title[0].value == TITLES[page]
    chinese_page = open_page(page, "zh")
    assert chinese(chinese_page.title[0].value)
    notices = [*chinese_page.info, *chinese_page.caption]
    assert notices and all(chinese(notice.value) for notice in notices[:1])


def digit_png() -> bytes:
    image = Image.new("L", (200, 200), 255)
    ImageDraw.Draw(image).line([(100, 30), (100, 170)], fill=0, width=18)
    buffer = io.BytesIO()
    image.save(buffer, "PNG")
    return buffer.getvalue()


def test_predict_page_in_chinese_translates_steps_and_labels(finished_run):
    at = keep_language(open_page("pages/predict.py", "zh"), "zh")
    at.file_uploader(key="uploads").set_value([
        ("broken.png", b"not an image", "image/png"),
        ("one.png", digit_png(), "image/png"),
    ]).run()
    assert not at.exception, at.exception
    assert chinese(at.title[0].value)
    assert [metric.label for metric in at.metric] == [catalogue("zh")["predict.prediction"]]
    assert at.error[0].value.startswith("broken.png：")
    assert "不是 Pillow 能读取的图片" in at.error[0].value  # lepton's reason, translated
    steps = [caption for image in at.get("image") for caption in image.captions][:5]
    assert steps and all(chinese(caption) for caption in steps), steps
    assert any(caption.value.startswith("此模型的预处理") for caption in at.caption)
    assert list(at.dataframe[0].value["file"]) == ["broken.png", "one.png"]  # stable columns


def test_evaluate_page_in_chinese_shows_chinese_metrics(finished_run):
    at = open_page("pages/evaluate.py", "zh")
    labels = {metric.label for metric in at.metric}
    assert {"测试集准确率", "测试集损失", "测试图像数"} <= labels
    assert all(chinese(header.value) for header in at.subheader)
    texts = figure_texts(at, "confusion")
    assert texts and all(chinese(text) for text in texts), texts


def test_data_page_in_chinese_imports_and_reports(lepton_home):
    at = keep_language(open_page("pages/data.py", "zh"), "zh")
    at.file_uploader(key="data_upload").set_value(
        ("pets.zip", shapes_zip(per_class=8), "application/zip")).run()
    keep_language(at, "zh").radio(key="data_channels").set_value(3)
    at.button(key="data_import").click().run()
    assert not at.exception, at.exception
    assert not at.error, [error.value for error in at.error]
    assert at.success[0].value.startswith("已导入 **pets**")
    assert "训练图像数" in {metric.label for metric in at.metric}
    assert any("直接缩放到 28×28 RGB" in caption.value and "分层划分" in caption.value
               for caption in at.caption)
    texts = figure_texts(at, "class_balance")
    assert texts and all(chinese(text) for text in texts), texts
    table = [frame.value for frame in at.dataframe if "provenance" in frame.value.columns][0]
    assert table.set_index("name").loc["pets", "kind"] == "导入"


def test_optimize_page_in_chinese_with_a_run(finished_run, lepton_home):
    at = keep_language(open_page("pages/optimize.py", "zh"), "zh")
    assert chinese(at.caption[-1].value)  # "not measured yet"
    at.multiselect(key="optimize_variants").set_value(["fp32"])
    at.select_slider(key="optimize_repeats").set_value(200)
    at.button(key="export_measure").click()
    keep_language(at, "zh").run()
    assert not at.exception, at.exception
    (bar,) = at.get("progress")  # the export's own process reports; the page translates
    assert chinese(bar.proto.text), bar.proto.text
    assert wait_for_export(lepton_home, finished_run["id"])["status"] == "done"
    keep_language(at, "zh").run()
    assert not at.exception, at.exception
    assert any(caption.value.startswith("测量于") for caption in at.caption)
    (table,) = [frame.value for frame in at.dataframe if "p50 ms" in frame.value.columns]
    assert list(table["variant"]) == ["keras", "fp32"]  # column names and values stay stable
    texts = figure_texts(at, "optimize_chart")
    assert texts and all(chinese(text) for text in texts), texts
    labels = [element.proto.label for element in at.get("download_button")]
    assert labels and all("（" in label for label in labels), labels


def test_every_variant_note_is_translated():
    english, chinese_texts = catalogue("en"), catalogue("zh")
    for variant, note in VARIANT_NOTES.items():
        key = f"optimize.note_{variant.replace('-', '_')}"
        assert english[key] == note  # the same words as lepton.export
        assert chinese(chinese_texts[key])
