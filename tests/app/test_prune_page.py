"""The Optimize page's pruning section under AppTest: prune a run in a worker process, then the
table, charts and downloads of its pruned runs, in English and 简体中文."""

import json
import re
import time

import pytest
from streamlit.testing.v1 import AppTest

from lepton.jobs import execute_run
from lepton.pruning import PruneSpec, prune_config
from lepton.registry import RunStore
from tests.app import session
from tests.app.session import TIMEOUT, keep_language

PAGE = "pages/optimize.py"
HAN = re.compile(r"[\u4e00-\u9fff]")
DOWNLOADS = ["prune_download_keras", "prune_download_tflite", "prune_download_int8.tflite"]


def pruned_table(at: AppTest, model_column: str = "model"):
    (table,) = [frame.value for frame in at.dataframe if model_column in frame.value.columns]
    return table


def chart_keys(at: AppTest) -> list[str]:
    return [chart.key for chart in at.get("plotly_chart")]


def chart_title(at: AppTest, key: str) -> str:
    (chart,) = [chart for chart in at.get("plotly_chart") if chart.key == key]
    return json.loads(chart.proto.spec)["layout"]["title"]["text"]


def downloads(at: AppTest) -> dict[str, str]:
    return {button.key: button.proto.label for button in at.get("download_button")
            if (button.key or "").startswith("prune_download")}


def wait_until_done(home, run_id: int) -> dict:
    store = RunStore(home)
    deadline = time.monotonic() + TIMEOUT
    while (run := store.get_run(run_id))["status"] in ("queued", "running"):
        assert time.monotonic() < deadline, f"run {run_id} did not finish: {run['progress']}"
        time.sleep(0.5)
    time.sleep(1.1)  # the page's run list is re-read at most every second
    return run


def prune_in_process(home, parent: dict) -> dict:
    store = RunStore(home)
    child_id = store.create_run(parent["dataset"], parent["model_config"],
                                prune_config(parent, PruneSpec(parent["id"], 0.8, epochs=1)))
    run = execute_run(store, child_id)
    assert run["status"] == "done", run["reason"]
    return run


def test_pruning_from_the_page_fills_the_table_charts_and_downloads(finished_run, lepton_home):
    at = session.open_page(PAGE)
    parent_id = finished_run["id"]
    assert [subheader.value for subheader in at.subheader][-1] == \
        "Pruning: fewer weights, as the article's outlook promises"
    assert at.select_slider(key="prune_sparsity").value == 0.8
    assert at.select_slider(key="prune_sparsity").options == ["50%", "60%", "70%", "80%", "90%",
                                                              "95%"]
    assert at.slider(key="prune_epochs").value == 3
    assert at.selectbox(key="prune_schedule").value == "gradual"
    assert at.selectbox(key="prune_scope").value == "global"
    assert f"Run {parent_id} has not been pruned yet." in [caption.value for caption in at.caption]
    assert "pruned_table" not in [frame.key for frame in at.dataframe]

    at.select_slider(key="prune_sparsity").set_value(0.8)
    at.slider(key="prune_epochs").set_value(1)
    at.button(key="prune_start").click().run()
    assert not at.exception, at.exception
    (child,) = [run for run in RunStore(lepton_home).list_runs() if run["id"] != parent_id]
    assert child["train_config"]["prune"] == {"parent_run_id": parent_id, "sparsity": 0.8,
                                              "epochs": 1, "schedule": "gradual",
                                              "scope": "global"}
    assert child["train_config"]["epochs"] == 1
    assert at.get("progress"), "no progress bar while the pruned run trains"
    assert "prune_start" not in [button.key for button in at.button]

    child = wait_until_done(lepton_home, child["id"])
    assert child["status"] == "done", child["reason"]
    at.run()
    assert not at.exception, at.exception
    metrics = child["metrics"]

    table = pruned_table(at)
    assert list(table["model"]) == [f"run {parent_id} (parent)",
                                    f"run {child['id']} ({metrics['sparsity']:.1%} zeros)"]
    assert list(table.columns) == ["model", "zeros", "test accuracy", "fp32 gzipped (bytes)",
                                   "int8 gzipped (bytes)", "int8 test accuracy", "p50 ms"]
    assert table.loc[0, "zeros"] == 0.0
    assert table.loc[1, "zeros"] == pytest.approx(0.8, abs=0.005)
    assert table.loc[0, "test accuracy"] == 0.1
    assert table.loc[1, "test accuracy"] == pytest.approx(metrics["test_accuracy"])
    assert table.loc[0, "fp32 gzipped (bytes)"] == metrics["parent_gzip_bytes"]
    assert table.loc[1, "fp32 gzipped (bytes)"] == metrics["gzip_bytes"]
    assert table.loc[1, "fp32 gzipped (bytes)"] < table.loc[0, "fp32 gzipped (bytes)"]
    assert table.loc[1, "int8 gzipped (bytes)"] < table.loc[0, "int8 gzipped (bytes)"]
    assert table.loc[1, "int8 test accuracy"] == pytest.approx(metrics["int8_test_accuracy"])
    assert table.loc[1, "p50 ms"] == pytest.approx(metrics["latency_ms"]) and \
        table.loc[1, "p50 ms"] > 0

    assert {"prune_size", "prune_latency", "prune_histogram"} <= set(chart_keys(at))
    assert chart_title(at, "prune_size") == "Accuracy against compressed size"
    assert chart_title(at, "prune_latency") == "Accuracy against one-image latency"
    assert chart_title(at, "prune_histogram") == \
        "Kernel weights before and after pruning (log counts)"
    assert at.selectbox(key="prune_child").value == child["id"]
    assert at.selectbox(key="prune_child").options == \
        [f"run {child['id']} ({metrics['sparsity']:.1%} zeros)"]
    labels = downloads(at)
    assert sorted(labels) == sorted(DOWNLOADS)
    assert labels["prune_download_keras"] == f"Download model.keras of run {child['id']}"
    assert labels["prune_download_int8.tflite"] == \
        f"Download model-int8-dynamic.tflite of run {child['id']}"
    assert "prune_start" in [button.key for button in at.button]  # free to prune again

    # The pruned run itself is not pruned again: the page points at its parent instead.
    at.selectbox(key="optimize_run").set_value(child["id"]).run()
    assert not at.exception, at.exception
    info = [element.value for element in at.info]
    assert f"Run {child['id']} is a pruned run ({metrics['sparsity']:.1%} zeros) of run " \
           f"{parent_id}: choose run {parent_id} to prune it further or compare." in info
    assert "prune_start" not in [button.key for button in at.button]
    assert "prune_sparsity" not in [slider.key for slider in at.select_slider]
    assert not downloads(at) and "prune_histogram" not in chart_keys(at)


def open_in_chinese(run_id: int) -> AppTest:
    """The Optimize page in 简体中文 with `run_id` chosen, in its first run."""
    at = session.new_session()
    at.session_state["language"] = "zh"
    at.session_state["optimize_run"] = run_id
    at.switch_page(PAGE).run()
    assert not at.exception, at.exception
    return at


def test_the_pruning_section_in_chinese(finished_run, lepton_home):
    at = keep_language(session.open_page(PAGE, "zh"), "zh")
    assert at.title[0].value == "优化"
    assert "剪枝：更少的权重，如文章展望所言" in [subheader.value for subheader in at.subheader]
    assert at.select_slider(key="prune_sparsity").label == "稀疏度（置零权重的比例）"
    assert at.slider(key="prune_epochs").label == "微调轮数"
    assert at.selectbox(key="prune_schedule").label == "调度"
    assert at.selectbox(key="prune_schedule").options == \
        ["逐步（三次曲线，在微调进行到 ¾ 时达到目标）", "一次性（先全部剪掉，再微调）"]
    assert at.selectbox(key="prune_scope").label == "范围"
    assert at.selectbox(key="prune_scope").options == \
        ["全局（所有层共用一个阈值）", "逐层（每层剪掉相同比例）"]
    assert at.button(key="prune_start").label == "剪枝并微调"
    assert f"运行 {finished_run['id']} 还没有剪枝过。" in [caption.value for caption in at.caption]

    child = prune_in_process(lepton_home, finished_run)
    at = open_in_chinese(finished_run["id"])
    table = pruned_table(at, "模型")
    assert list(table.columns) == ["模型", "零的比例", "测试集准确率", "fp32 压缩后（字节）",
                                   "int8 压缩后（字节）", "int8 测试准确率", "p50（ms）"]
    sparsity = f"{child['metrics']['sparsity']:.1%}"
    assert list(table["模型"]) == [f"运行 {finished_run['id']}（父运行）",
                                   f"运行 {child['id']}（{sparsity} 为零）"]
    assert chart_title(at, "prune_size") == "准确率对比压缩后大小"
    assert chart_title(at, "prune_latency") == "准确率对比单张图片延迟"
    assert chart_title(at, "prune_histogram") == "剪枝前后的卷积核与全连接权重（对数计数）"
    assert at.selectbox(key="prune_child").options == [f"运行 {child['id']}（{sparsity} 为零）"]
    labels = downloads(at)
    assert sorted(labels) == sorted(DOWNLOADS)
    assert labels["prune_download_keras"] == f"下载运行 {child['id']} 的 model.keras"

    at = open_in_chinese(child["id"])  # the pruned run itself
    assert [element.value for element in at.info] == [
        f"运行 {child['id']} 是运行 {finished_run['id']} 的剪枝版本（{sparsity} 为零）：请选择运行 "
        f"{finished_run['id']} 来继续剪枝或比较。"]
    assert "prune_start" not in [button.key for button in at.button]


def test_the_chinese_page_runs_again_after_a_change(finished_run):
    at = keep_language(session.open_page(PAGE, "zh"), "zh")
    at.slider(key="prune_epochs").set_value(1)
    keep_language(at, "zh").run()
    assert not at.exception, at.exception
    assert at.slider(key="prune_epochs").value == 1
    assert at.selectbox(key="prune_schedule").label == "调度"
