"""Architecture, Formula lab and Single node vs many in English and 简体中文; the figures and
errata that `lepton` writes for them follow the language too."""

import re

import pytest
from streamlit.testing.v1 import AppTest

from lepton import diagrams, errata, scaling
from lepton.model import build_model
from lepton.scaling_charts import scaling_chart
from tests.app.session import keep_language, open_page

HAN = re.compile(r"[\u4e00-\u9fff]")
NUMBERS = re.compile(r"\[\[[^\]]*\]|\d+(?:\.\d+)?")
PAGES = {  # page → its English title
    "pages/architecture.py": "Architecture",
    "pages/formula_lab.py": "Formula lab",
    "pages/scaling.py": "Single node vs many",
}


def rerun(at: AppTest, language: str) -> AppTest:
    """Runs again in `language` (see `keep_language`)."""
    keep_language(at, language).run()
    assert not at.exception, at.exception
    return at


@pytest.mark.parametrize("language", ["en", "zh"])
@pytest.mark.parametrize("page", PAGES)
def test_page_renders_in_both_languages(lepton_home, page, language):
    at = open_page(page, language)

    title = at.title[0].value
    if language == "en":
        assert title == PAGES[page]
        assert not HAN.search(title)
    else:
        assert HAN.search(title), title
        # Widget labels, headings and messages are translated too, not only the title.
        labels = [widget.label for widget in (*at.slider, *at.number_input, *at.radio)]
        assert labels and all(HAN.search(label) for label in labels), labels
        texts = [element.value for element in (*at.subheader, *at.caption, *at.info,
                                               *at.warning, *at.success)]
        assert all(HAN.search(text) for text in texts), texts


def test_formula_lab_in_chinese_keeps_the_numbers(lepton_home):
    at = open_page("pages/formula_lab.py", "zh")

    assert [tab.label for tab in at.tabs] == ["卷积", "激活函数", "池化", "全连接", "文章与勘误"]
    assert [item.label for item in at.metric] == ["输出形状", "池化后形状"]
    assert at.code[0].value.endswith("= 6")  # the arithmetic stays as it is
    corrections = " ".join(box.value for box in at.success)
    assert "[[6, 9, 8], [13, 20, 17], [12, 21, 14]]" in corrections and "**正确**" in corrections
    assert len(at.latex) >= 8

    at.radio(key="conv_padding").set_value("valid")
    at.slider(key="conv_kernel_size").set_value(5)
    rerun(at, "zh")

    assert at.error[0].value.startswith("不接受此组合：")
    assert "padding='same'" in at.error[0].value  # lepton's reason stays English


def test_architecture_choice_survives_a_change_of_language(lepton_home):
    at = open_page("pages/architecture.py", "en")
    at.radio(key="arch_source").set_value("Custom")
    rerun(at, "en")
    at.slider(key="arch_kernel").set_value(2)
    rerun(at, "en")
    english_params = at.dataframe[0].value.iloc[-1]["Params"]
    assert at.dataframe[0].value.iloc[-1]["Layer"] == "Total"

    rerun(at, "zh")

    assert at.radio(key="arch_source").value == "Custom"
    assert at.radio(key="arch_source").options == ["参考网络", "已完成的运行", "自定义"]
    table = at.dataframe[0].value
    assert table.iloc[-1]["Layer"] == "合计" and table.iloc[-1]["Params"] == english_params
    assert [item.label for item in at.metric][0] == "参数量"
    charts = at.get("graphviz_chart")
    assert "个参数" in charts[0].proto.spec
    assert "卷积层" in charts[1].proto.spec and "Convolutional layer" in charts[1].proto.spec


# --- lepton's texts ---------------------------------------------------------------------------


def test_errata_in_chinese_carry_the_same_computed_numbers():
    english, chinese = errata.article_errata("en"), errata.article_errata("zh")

    assert len(chinese) == len(english) == 3
    for english_entry, chinese_entry in zip(english, chinese, strict=True):
        assert set(chinese_entry) == {"claim", "correct", "why"}
        for part in ("claim", "correct", "why"):
            assert HAN.search(chinese_entry[part])
            matrices = re.findall(r"\[\[.*?\]\]", english_entry[part])
            assert re.findall(r"\[\[.*?\]\]", chinese_entry[part]) == matrices
    assert "在底部填充 1 行、在左侧填充 1 列" in chinese[1]["why"]


def test_figures_follow_the_language():
    x = [-2.0, 0.0, 3.0]
    assert diagrams.activation_figure(x, language="zh").layout.title.text == "逐元素激活函数"
    assert HAN.search(diagrams.softmax_figure(x, language="zh").layout.title.text)
    names = [trace.name for trace in diagrams.activation_figure(x, language="zh").data]
    assert "ReLU（你输入的 x）" in names
    hover = diagrams.matrix_figure([[1.0]], language="zh").data[-1].hovertemplate
    assert hover.startswith("第 %{y} 行，第 %{x} 列")

    flows = diagrams.article_flow_dots(language="zh")
    assert list(flows)[0] == "图 1 — 层的堆叠"
    assert list(flows.values()) == list(diagrams.article_flow_dots().values())

    dot = diagrams.network_dot(build_model(), language="zh")
    assert "3×3 卷积核，32 个滤波器" in dot and "10 个单元，softmax" in dot

    inputs = scaling.ScalingInputs()
    nodes = range(1, 9)
    chart = scaling_chart(scaling.sweep(inputs, nodes), scaling.break_even(inputs, nodes),
                          language="zh")
    titles = [annotation.text for annotation in chart.layout.annotations]
    assert "相对单节点的加速比" in titles and "训练成本" in titles
    assert chart.layout.xaxis.title.text == "节点数 N"


def test_a_refused_architecture_is_explained_in_chinese(lepton_home):
    at = open_page("pages/architecture.py", "en")
    at.radio(key="arch_source").set_value("Custom")  # AppTest matches the option's label
    rerun(at, "en")
    at.slider(key="arch_blocks").set_value(3)
    at.slider(key="arch_kernel").set_value(7)
    rerun(at, "en")
    assert "shrink" in at.error[0].value
    rerun(at, "zh")

    (error,) = at.error
    assert "缩小到没有" in error.value and "shrink" not in error.value, error.value
