"""Training recipes, in one place: the article's script as printed, and Lepton's default.

The default is the article's architecture trained with this host's fastest execution settings
(found by `python -m lepton calibrate`, or a safe default before that) plus mild augmentation
and a cosine learning-rate decay, which together reach ≥ 98 % on the embedded digits
(BENCHMARKS.md). The Train page and `python -m lepton train` both start from it.
"""

from __future__ import annotations

from pathlib import Path

from lepton.train_config import TrainConfig

RECIPES = ("default", "article")
ARTICLE = TrainConfig()  # float32, Adam 0.001, batch 32, 5 epochs, no augmentation
# What the default adds to the execution settings (measured: see BENCHMARKS.md).
DEFAULT_TRAINING = {"epochs": 30, "augmentation": "mild", "schedule": "cosine"}
EXECUTION_FIELDS = ("precision", "batch_size", "learning_rate", "steps_per_execution", "threads")


def execution_settings(home: str | Path | None = None) -> tuple[dict, str]:
    """This host's execution settings (calibrated or the safe default) and where they come from."""
    from lepton.fastpath import execution_settings as stored_settings

    settings, source = stored_settings(home)
    return {key: settings[key] for key in EXECUTION_FIELDS if key in settings}, source


def default_config(home: str | Path | None = None, **changes) -> TrainConfig:
    """Lepton's default recipe on this host, with `changes` applied on top."""
    settings, _ = execution_settings(home)
    return TrainConfig(**{**settings, **DEFAULT_TRAINING, **changes})


def recipe_config(name: str, home: str | Path | None = None, **changes) -> TrainConfig:
    """The recipe called `name` ("default" or "article"), with `changes` applied on top."""
    if name == "article":
        return TrainConfig(**{**ARTICLE.to_dict(), **changes})
    if name == "default":
        return default_config(home, **changes)
    raise ValueError(f"Expected a recipe in {RECIPES}, got {name!r}.")
