"""lepton.recipes: the article's script as printed, and one default on this host's settings."""

import pytest

from lepton import fastpath
from lepton.fastpath import Candidate, save_calibration
from lepton.recipes import ARTICLE, DEFAULT_TRAINING, default_config, recipe_config
from lepton.training import TrainConfig


def test_the_article_recipe_is_the_script_as_printed():
    config = recipe_config("article")
    assert config == ARTICLE == TrainConfig()
    assert (config.optimizer, config.learning_rate, config.batch_size, config.epochs,
            config.precision, config.augmentation, config.schedule,
            config.steps_per_execution) == ("adam", 0.001, 32, 5, "float32", "none", "constant", 1)


def test_before_calibration_the_default_is_the_safe_setting_plus_the_training_recipe(
        lepton_home):
    config = default_config(lepton_home)
    assert {key: getattr(config, key) for key in DEFAULT_TRAINING} == DEFAULT_TRAINING
    assert config.batch_size == fastpath.SAFE_DEFAULT.batch_size
    assert config.precision == fastpath.SAFE_DEFAULT.precision
    assert config.steps_per_execution == fastpath.SAFE_DEFAULT.steps_per_execution


def test_after_calibration_the_default_takes_the_winners_execution_settings(lepton_home):
    winner = Candidate("float32", 32, steps_per_execution=4, threads=1)
    save_calibration(lepton_home, [], winner.to_dict())
    config = default_config(lepton_home, seed=3)
    assert (config.precision, config.batch_size, config.learning_rate,
            config.steps_per_execution, config.threads, config.seed) == (
        "float32", 32, winner.learning_rate, 4, 1, 3)
    assert config.augmentation == "mild" and config.schedule == "cosine"


def test_an_unknown_recipe_says_which_exist():
    with pytest.raises(ValueError, match=r"Expected a recipe in \('default', 'article'\)"):
        recipe_config("turbo")
