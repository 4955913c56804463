"""lepton.sweep_space: the text of a search space, its refusals, and what it asks Optuna for."""

import optuna
import pytest

from lepton.sweep_space import (
    DEFAULT_SPACE,
    FLOAT_STEP,
    Dimension,
    SearchSpace,
    parse_space,
    space_text,
)
from lepton.train_fields import configs_from_values, train_fields
from lepton.training import TrainConfig

FIELDS = train_fields(TrainConfig())
DEFAULTS = {name: field.default for name, field in FIELDS.items()}

optuna.logging.set_verbosity(optuna.logging.WARNING)


def _study(seed: int = 0) -> optuna.Study:
    """An in-memory two-objective study with a seeded sampler, so the draws repeat."""
    return optuna.create_study(directions=["maximize", "minimize"],
                               sampler=optuna.samplers.RandomSampler(seed=seed))


def _refusal(text: str) -> str:
    with pytest.raises(ValueError) as caught:
        parse_space(text, FIELDS)
    return str(caught.value)


# --- parsing ---------------------------------------------------------------------------------

def test_parse_space_reads_choices_and_an_integer_range():
    space = parse_space("filters1=8,16 lr=0.001,0.003 epochs=3..15", FIELDS)
    assert space.dimensions == (
        Dimension("filters1", choices=(8, 16)),
        Dimension("lr", choices=(0.001, 0.003)),
        Dimension("epochs", low=3, high=15, integer=True),
    )


def test_parse_space_reads_a_float_range_as_floats():
    (dimension,) = parse_space("dropout=0..0.3", FIELDS).dimensions
    assert dimension == Dimension("dropout", low=0.0, high=0.3, integer=False)
    assert isinstance(dimension.low, float)


def test_dimensions_follow_the_train_page_order_not_the_text_order():
    space = parse_space("epochs=3..15 dense=32,64 filters1=8,16", FIELDS)
    assert [dimension.name for dimension in space.dimensions] == ["filters1", "dense", "epochs"]


def test_fields_not_named_keep_their_defaults_and_varied_fields_are_not_fixed():
    space = parse_space("filters1=8,16 epochs=3..15", FIELDS)
    assert set(space.fixed) == set(FIELDS) - {"filters1", "epochs"}
    assert space.fixed == {name: value for name, value in DEFAULTS.items()
                           if name not in ("filters1", "epochs")}


def test_an_empty_space_fixes_every_field_at_its_default():
    space = parse_space("", FIELDS)
    assert space.dimensions == ()
    assert space.fixed == DEFAULTS
    assert space.size() == 1


def test_a_single_value_fixes_the_field_instead_of_varying_it():
    space = parse_space("epochs=7 filters1=16", FIELDS)
    assert space.dimensions == ()
    assert space.fixed["epochs"] == 7
    assert space.fixed["filters1"] == 16


def test_a_repeated_choice_counts_once_and_so_fixes_the_field():
    space = parse_space("batch=64,64", FIELDS)
    assert space.dimensions == ()
    assert space.fixed["batch"] == 64


def test_a_learning_rate_in_scientific_notation_names_the_offered_value():
    (dimension,) = parse_space("lr=1e-3,3e-3", FIELDS).dimensions
    assert dimension.choices == (0.001, 0.003)


def test_the_default_space_parses_and_holds_3159_setups():
    space = parse_space(DEFAULT_SPACE, FIELDS)
    assert [dimension.name for dimension in space.dimensions] == [
        "filters1", "filters2", "dense", "lr", "batch", "epochs"]
    assert space.size() == 3 * 3 * 3 * 3 * 3 * 13


def test_size_is_none_when_a_float_range_is_in_the_space():
    assert parse_space("filters1=8,16 dropout=0..0.3", FIELDS).size() is None


def test_size_multiplies_choices_and_integer_range_lengths():
    assert parse_space("filters1=8,16,32 kernel=3..5", FIELDS).size() == 9


# --- refusals --------------------------------------------------------------------------------

def test_an_unknown_field_is_refused_with_the_list_of_fields():
    text = _refusal("filters=8,16")
    assert "Unknown search field 'filters'" in text
    assert "Choose from: subset, validation, seed, blocks, filters1," in text
    assert "schedule." in text


def test_a_token_without_equals_is_refused_with_an_example():
    text = _refusal("epochs")
    assert "Expected name=values" in text
    assert "'epochs'" in text
    assert "epochs=3..15" in text


def test_a_token_without_values_is_refused():
    assert "Expected name=values" in _refusal("epochs=")


def test_a_value_the_train_page_does_not_offer_is_refused_with_the_offered_values():
    text = _refusal("lr=0.001,0.005")
    assert text.startswith("lr=0.005: expected one of ")
    assert "0.0001, 0.0003, 0.001, 0.002, 0.003, 0.004, 0.01" in text


def test_a_filter_count_the_train_page_does_not_offer_is_refused():
    assert _refusal("filters1=8,24") == "filters1=24: expected one of 8, 16, 32, 64, 128"


def test_a_number_outside_the_field_bounds_is_refused_with_the_bounds():
    assert _refusal("epochs=3..100") == "epochs=100: expected 1..60"


def test_a_fractional_value_for_a_whole_number_field_is_refused():
    assert _refusal("epochs=3.5..9") == "epochs=3.5: expected a whole number"


def test_a_range_on_a_choice_field_is_refused_with_the_choices_to_give_instead():
    text = _refusal("filters1=8..64")
    assert text == "filters1 takes choices, not a range: give some of 8, 16, 32, 64, 128."


def test_a_range_whose_low_equals_its_high_is_refused():
    assert _refusal("epochs=5..5") == "epochs=5..5: expected low..high with low < high."


def test_a_range_whose_low_is_above_its_high_is_refused():
    assert _refusal("dropout=0.3..0.1") == \
        "dropout=0.3..0.1: expected low..high with low < high."


def test_a_field_varied_twice_is_refused():
    assert _refusal("epochs=3..15 epochs=5..9") == \
        "The search field 'epochs' is given twice; give it once."


def test_a_field_varied_then_fixed_is_refused():
    assert "given twice" in _refusal("filters1=8,16 filters1=32")


def test_a_field_fixed_twice_is_refused():
    assert "given twice" in _refusal("epochs=3 epochs=5")


def test_a_field_fixed_then_varied_is_refused():
    assert "given twice" in _refusal("epochs=7 epochs=3..15")


# --- text and dict round trips ---------------------------------------------------------------

def test_space_text_round_trips_through_parse_space():
    space = parse_space("filters1=8,16 lr=0.0001,0.001 epochs=3..15 dropout=0..0.3", FIELDS)
    assert space.text() == "filters1=8,16 dropout=0.0..0.3 lr=0.0001,0.001 epochs=3..15"
    assert parse_space(space.text(), FIELDS) == space


def test_the_default_space_text_is_unchanged_by_a_round_trip():
    assert parse_space(DEFAULT_SPACE, FIELDS).text() == DEFAULT_SPACE


def test_a_space_round_trips_through_its_dict():
    space = parse_space("blocks=1..3 filters2=8,16 dropout=0.1..0.4 optimizer=adam,sgd", FIELDS)
    assert SearchSpace.from_dict(space.to_dict()) == space


def test_dimension_dicts_name_choices_or_a_range():
    assert Dimension("dense", choices=(32, 64)).to_dict() == {"name": "dense",
                                                              "choices": [32, 64]}
    assert Dimension("epochs", low=3, high=15, integer=True).to_dict() == {
        "name": "epochs", "low": 3, "high": 15, "integer": True}


def test_space_text_builds_choices_ranges_and_fixes_single_values():
    text = space_text({"filters1": [8, 16], "epochs": (3, 15), "dropout": (0.1, 0.1),
                       "dense": [], "lr": [0.001]})
    assert text == "filters1=8,16 epochs=3..15 dropout=0.1 lr=0.001"
    space = parse_space(text, FIELDS)
    assert [dimension.name for dimension in space.dimensions] == ["filters1", "epochs"]
    assert space.fixed["dropout"] == 0.1
    assert space.fixed["lr"] == 0.001
    assert space.fixed["dense"] == DEFAULTS["dense"]


# --- suggest, with a real Optuna trial -------------------------------------------------------

def test_suggest_returns_every_field_within_the_dimensions():
    space = parse_space("filters1=8,16 lr=0.001,0.003 epochs=3..15 dropout=0..0.3", FIELDS)
    study = optuna.create_study(directions=["maximize", "minimize"])
    trial = study.ask()
    values = space.suggest(trial)
    assert set(values) == set(FIELDS)
    assert values["filters1"] in (8, 16)
    assert values["lr"] in (0.001, 0.003)
    assert isinstance(values["epochs"], int) and 3 <= values["epochs"] <= 15
    assert 0.0 <= values["dropout"] <= 0.3
    # The run gets 0.15 where Optuna's stepped float may be 0.15000000000000002.
    assert trial.params == pytest.approx({name: values[name]
                                          for name in ("filters1", "dropout", "lr", "epochs")},
                                         rel=0, abs=1e-9)
    assert {name: values[name] for name in space.fixed} == space.fixed


def test_suggest_asks_for_dropout_on_the_train_page_slider_step():
    space = parse_space("dropout=0..0.3", FIELDS)
    study = _study(seed=3)
    for _ in range(20):
        value = space.suggest(study.ask())["dropout"]
        steps = value / FLOAT_STEP
        assert 0.0 <= value <= 0.3
        assert abs(steps - round(steps)) < 1e-9


def test_suggest_skips_the_filter_count_of_a_block_the_trial_does_not_have():
    space = parse_space("blocks=1..2 filters2=8,16", FIELDS)
    study = _study(seed=0)
    seen_blocks = set()
    for _ in range(30):
        trial = study.ask()
        values = space.suggest(trial)
        seen_blocks.add(values["blocks"])
        if values["blocks"] == 1:
            assert trial.params == {"blocks": 1}
            assert "filters2" not in values
        else:
            assert trial.params["blocks"] == 2
            assert trial.params["filters2"] in (8, 16)
            assert values["filters2"] == trial.params["filters2"]
        assert values["filters1"] == DEFAULTS["filters1"]
    assert seen_blocks == {1, 2}


def test_a_fixed_block_count_keeps_its_filter_counts_out_of_the_search():
    space = parse_space("blocks=1 filters2=8,16 filters3=8,16", FIELDS)
    trial = _study().ask()
    values = space.suggest(trial)
    assert trial.params == {}
    assert values["blocks"] == 1
    assert "filters2" not in values and "filters3" not in values


def test_every_suggested_setup_builds_configs():
    space = parse_space("blocks=1..3 filters1=8,16 filters2=8,16 filters3=32,64 "
                        "kernel=2..3 dropout=0..0.5 optimizer=adam,sgd", FIELDS)
    study = _study(seed=1)
    for _ in range(15):
        values = space.suggest(study.ask())
        model_config, train_config = configs_from_values(values)
        assert len(model_config.filters) == values["blocks"]
        assert model_config.filters == tuple(values[f"filters{index}"]
                                             for index in range(1, values["blocks"] + 1))
        assert train_config.optimizer == values["optimizer"]


def test_a_grid_lists_every_setup_once_in_a_seeded_order():
    from lepton.train_fields import train_fields
    from lepton.training import TrainConfig

    space = parse_space("filters1=8,16,32 dense=32,128 epochs=2..3", train_fields(TrainConfig()))
    grid = space.grid(seed=1)
    assert len(grid) == space.size() == 12
    assert {tuple(sorted(setup.items())) for setup in grid} == {
        (("dense", dense), ("epochs", epochs), ("filters1", filters))
        for filters in (8, 16, 32) for dense in (32, 128) for epochs in (2, 3)}
    assert grid == space.grid(seed=1) and grid != space.grid(seed=2)
    with pytest.raises(ValueError, match="float ranges"):
        parse_space("dropout=0..0.3", train_fields(TrainConfig())).grid()
