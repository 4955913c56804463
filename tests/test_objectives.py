"""lepton.objectives: objective names and limits, a run's figures, the front and its pick."""

import math

import pytest

from lepton.costs import CostSettings
from lepton.objectives import (
    DEFAULT_OBJECTIVES,
    OBJECTIVES,
    as_costs,
    check_limits,
    dominates,
    figures,
    front,
    hypervolume_2d,
    parse_objectives,
    recommend,
    violations,
)

# --- parse_objectives ------------------------------------------------------------------------

def test_parse_objectives_returns_the_names_in_order_with_spaces_stripped():
    assert parse_objectives(" latency_ms , accuracy,size_kb ") == (
        "latency_ms", "accuracy", "size_kb")


def test_the_default_objectives_parse():
    assert parse_objectives(",".join(DEFAULT_OBJECTIVES)) == ("accuracy", "train_seconds")


@pytest.mark.parametrize("text", ["accuracy", "", " , ", "accuracy,"])
def test_fewer_than_two_objectives_are_refused_with_an_example(text):
    with pytest.raises(ValueError, match="Give two or more objectives to trade, "
                                         "e.g. accuracy,train_seconds"):
        parse_objectives(text)


def test_an_unknown_objective_is_refused_with_the_known_names():
    with pytest.raises(ValueError) as caught:
        parse_objectives("accuracy,speed")
    assert str(caught.value) == ("Unknown objective 'speed'. Choose from: accuracy, "
                                 "val_accuracy, train_seconds, cost, energy_wh, latency_ms, "
                                 "size_kb.")


def test_a_repeated_objective_is_refused():
    with pytest.raises(ValueError, match="given twice"):
        parse_objectives("accuracy,train_seconds,accuracy")


def test_accuracies_are_maximised_and_every_other_objective_minimised():
    maximised = {name for name, objective in OBJECTIVES.items()
                 if objective.direction == "maximize"}
    assert maximised == {"accuracy", "val_accuracy"}
    assert OBJECTIVES["accuracy"].sign == -1
    assert OBJECTIVES["train_seconds"].sign == 1


# --- check_limits ----------------------------------------------------------------------------

def test_check_limits_drops_unset_limits_and_returns_floats():
    checked = check_limits({"min_accuracy": 0.9, "max_latency_ms": 2, "max_cost": None})
    assert checked == {"min_accuracy": 0.9, "max_latency_ms": 2.0}
    assert isinstance(checked["max_latency_ms"], float)


def test_check_limits_accepts_zero():
    assert check_limits({"max_size_kb": 0}) == {"max_size_kb": 0.0}


def test_an_unknown_limit_is_refused_with_the_known_limits():
    with pytest.raises(ValueError) as caught:
        check_limits({"max_accuracy": 0.5})
    assert str(caught.value) == ("Unknown limit 'max_accuracy'. Choose from: min_accuracy, "
                                 "max_train_seconds, max_cost, max_energy_wh, max_latency_ms, "
                                 "max_size_kb.")


@pytest.mark.parametrize("value", [-1, math.nan, math.inf, "5"])
def test_a_limit_that_is_not_a_finite_number_at_least_zero_is_refused(value):
    with pytest.raises(ValueError, match="Expected max_train_seconds to be a number ≥ 0"):
        check_limits({"max_train_seconds": value})


# --- figures ---------------------------------------------------------------------------------

def test_figures_reads_every_objective_from_a_finished_run():
    run = {"metrics": {"test_accuracy": 0.97, "val_accuracy": 0.95, "latency_ms": 1.5,
                       "tflite_bytes": 52_000},
           "timings": {"train_seconds": 40.0, "wall_seconds": 1800.0, "cpu_seconds": 7200.0}}
    measured = figures(run, CostSettings(price_per_hour=0.2, watts_per_core=10.0))
    assert measured == pytest.approx({
        "accuracy": 0.97, "val_accuracy": 0.95, "train_seconds": 40.0,
        "cost": 0.1,  # half an hour at 0.2 per hour
        "energy_wh": 20.0,  # 7,200 CPU-seconds × 10 W / 3,600
        "latency_ms": 1.5, "size_kb": 52.0})


def test_figures_uses_rapl_joules_for_energy_when_measured():
    run = {"metrics": {}, "timings": {"wall_seconds": 10.0, "cpu_seconds": 20.0,
                                      "rapl_joules": 7200.0}}
    assert figures(run, CostSettings())["energy_wh"] == pytest.approx(2.0)


def test_figures_of_an_unmeasured_run_are_all_none():
    measured = figures({"metrics": None, "timings": None}, CostSettings())
    assert set(measured) == set(OBJECTIVES)
    assert all(value is None for value in measured.values())


# --- violations ------------------------------------------------------------------------------

def test_violations_are_how_far_over_each_limit_a_figure_is():
    measured = {"accuracy": 0.9, "train_seconds": 30.0, "latency_ms": 1.0}
    limits = {"min_accuracy": 0.95, "max_train_seconds": 20.0, "max_latency_ms": 2.0}
    assert violations(measured, limits) == pytest.approx({
        "min_accuracy": 0.05, "max_train_seconds": 10.0, "max_latency_ms": -1.0})


def test_a_figure_exactly_at_its_limit_is_within_it():
    assert violations({"size_kb": 50.0}, {"max_size_kb": 50.0}) == {"max_size_kb": 0.0}


def test_a_missing_figure_counts_as_infinitely_over_its_limit():
    over = violations({"accuracy": 0.99, "latency_ms": None}, {"min_accuracy": 0.5,
                                                                "max_latency_ms": 5.0,
                                                                "max_cost": 1.0})
    assert over["max_latency_ms"] == math.inf
    assert over["max_cost"] == math.inf
    assert over["min_accuracy"] < 0


def test_no_limits_give_no_violations():
    assert violations({"accuracy": 0.5}, {}) == {}


# --- dominance and the front -----------------------------------------------------------------

def test_a_point_better_on_one_cost_and_equal_on_the_other_dominates():
    assert dominates([1, 2], [1, 3])
    assert not dominates([1, 3], [1, 2])


def test_equal_points_do_not_dominate_each_other():
    assert not dominates([1, 2], [1, 2])


def test_a_trade_off_is_not_domination():
    assert not dominates([1, 3], [2, 2])
    assert not dominates([2, 2], [1, 3])


def test_front_keeps_only_the_undominated_points():
    points = [[0.0, 1.0], [0.5, 0.5], [0.6, 0.6], [1.0, 0.0], [1.0, 1.0]]
    assert front(points) == [True, True, False, True, False]


def test_front_keeps_both_of_two_equal_points():
    assert front([[1.0, 1.0], [1.0, 1.0], [2.0, 2.0]]) == [True, True, False]


def test_front_of_no_points_is_empty():
    assert front([]) == []


def test_as_costs_flips_the_sign_of_maximised_objectives():
    measured = {"accuracy": 0.9, "train_seconds": 12.0, "size_kb": 40.0}
    assert as_costs(measured, ("accuracy", "train_seconds", "size_kb")) == [-0.9, 12.0, 40.0]


# --- recommend -------------------------------------------------------------------------------

def test_recommend_picks_the_balanced_point_of_a_front():
    assert recommend([[0, 1], [0.4, 0.4], [1, 0]]) == 1


def test_recommend_scales_each_objective_before_measuring_balance():
    # Seconds span 10..1000 and accuracy costs span -0.99..-0.90: unscaled, seconds would win.
    points = [[-0.99, 1000.0], [-0.97, 100.0], [-0.90, 10.0]]
    assert recommend(points) == 1


def test_recommend_breaks_a_tie_by_the_first_index():
    assert recommend([[0, 1], [1, 0]]) == 0
    assert recommend([[1, 0], [0, 1]]) == 0
    assert recommend([[2, 2], [0, 1], [1, 0]]) == 1


def test_recommend_of_one_point_is_that_point():
    assert recommend([[3.0, 4.0]]) == 0


def test_recommend_ignores_an_objective_on_which_the_front_is_flat():
    assert recommend([[5.0, 0.0], [5.0, 0.3], [5.0, 1.0]]) == 0


def test_recommend_of_no_points_is_none():
    assert recommend([]) is None


# --- hypervolume_2d --------------------------------------------------------------------------

def test_hypervolume_of_a_staircase_is_its_area():
    # Columns up to x = 4: [1, 2) is 1 high (y 3..4), [2, 3) is 2 high, [3, 4) is 3 high.
    assert hypervolume_2d([[1, 3], [2, 2], [3, 1]], [4, 4]) == pytest.approx(6.0)


def test_hypervolume_ignores_dominated_and_repeated_points_and_their_order():
    staircase = [[3, 1], [2, 2], [2.5, 2.5], [1, 3], [2, 2], [3.5, 3.5]]
    assert hypervolume_2d(staircase, [4, 4]) == pytest.approx(6.0)


def test_hypervolume_ignores_points_at_or_beyond_the_reference():
    assert hypervolume_2d([[1, 1], [5, 0], [0, 4]], [4, 4]) == pytest.approx(9.0)


def test_hypervolume_of_one_point_is_its_rectangle():
    assert hypervolume_2d([[0.5, 1.0]], [2.0, 3.0]) == pytest.approx(3.0)


def test_hypervolume_of_no_points_is_zero():
    assert hypervolume_2d([], [1.0, 1.0]) == 0.0
