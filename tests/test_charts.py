"""Figures of lepton.charts: they carry the data they are given, labelled for a reader."""

from lepton import charts
from lepton.compare import pareto_front


def test_probability_bars_keep_digit_classes_as_labels():
    """Regression: class names "3", "8" became a numeric axis and the bars overlapped."""
    top = [{"class": "3", "index": 3, "probability": 0.9},
           {"class": "8", "index": 8, "probability": 0.07},
           {"class": "5", "index": 5, "probability": 0.03}]
    figure = charts.probability_bars(top)
    assert figure.layout.yaxis.type == "category"
    assert list(figure.data[0].y) == ["5", "8", "3"]  # most probable drawn on top
    assert list(figure.data[0].x) == [0.03, 0.07, 0.9]


def test_pareto_front_marks_only_undominated_runs():
    points = [(10.0, 0.90), (20.0, 0.95), (15.0, 0.85), (30.0, 0.95), (5.0, 0.80)]
    assert pareto_front(points) == [True, True, False, False, True]


def test_pareto_chart_fades_dominated_runs():
    rows = [{"id": index, "test_accuracy": accuracy, "wall_seconds": seconds, "filters": "32-64",
             "epochs": 1, "batch_size": 32}
            for index, (seconds, accuracy) in enumerate([(10, 0.9), (20, 0.95), (15, 0.85)])]
    figure = charts.pareto_chart(rows, "wall_seconds", "wall time (s)")
    front, dominated = figure.data[0], figure.data[1]
    assert list(front.x) == [10, 20] and list(dominated.x) == [15]
    assert dominated.opacity < front.opacity
