"""The Train page's settings as named fields: their choices, bounds and defaults, in one place.

The same names are the page's widget keys, its link's query parameters and a sweep's search
dimensions, so a setup found by a sweep opens on the Train page as a link.
"""

from __future__ import annotations

from lepton.model import (
    ACTIVATIONS,
    DENSE_CHOICES,
    FILTER_CHOICES,
    MAX_CONV_BLOCKS,
    MAX_DROPOUT,
    MAX_KERNEL_SIZE,
    POOLINGS,
    ModelConfig,
)
from lepton.querystate import Choice, Number
from lepton.train_config import AUGMENTATIONS, OPTIMIZERS, PRECISIONS, SCHEDULES, TrainConfig

LEARNING_RATES = (1e-4, 3e-4, 1e-3, 2e-3, 3e-3, 4e-3, 1e-2, 3e-2, 1e-1, 1.0, 10.0)
BATCH_SIZES = (16, 32, 64, 128, 256, 512)
STEPS_PER_EXECUTION = (1, 2, 4, 8, 16, 32, 64)
MAX_EPOCHS = 60
MAX_SUBSET = 60000


def _with(choices: tuple, value) -> tuple:
    """`choices` plus `value` (a calibrated default need not be a round number), sorted."""
    return tuple(sorted({*choices, value}))


def train_fields(default: TrainConfig) -> dict:
    """Field name → `Choice` or `Number`, with `default`'s values as the training defaults."""
    model = ModelConfig()
    return {
        "subset": Number(0, MAX_SUBSET, default.subset or 0, integer=True),
        "validation": Number(0.0, 0.5, default.validation_split),
        "seed": Number(0, 2**31 - 1, default.seed, integer=True),
        "blocks": Number(1, MAX_CONV_BLOCKS, model.conv_blocks, integer=True),
        "filters1": Choice(FILTER_CHOICES, model.filters[0]),
        "filters2": Choice(FILTER_CHOICES, model.filters[1]),
        "filters3": Choice(FILTER_CHOICES, model.filters[1]),
        "kernel": Number(1, MAX_KERNEL_SIZE, model.kernel_size, integer=True),
        "pooling": Choice(POOLINGS, model.pooling),
        "dense": Choice(DENSE_CHOICES, model.dense_units),
        "dropout": Number(0.0, MAX_DROPOUT, model.dropout_rate),
        "activation": Choice(ACTIVATIONS, model.activation),
        "optimizer": Choice(OPTIMIZERS, default.optimizer),
        "lr": Choice(_with(LEARNING_RATES, default.learning_rate), default.learning_rate),
        "batch": Choice(_with(BATCH_SIZES, default.batch_size), default.batch_size),
        "epochs": Number(1, MAX_EPOCHS, default.epochs, integer=True),
        "precision": Choice(PRECISIONS, default.precision),
        "steps_per_execution": Choice(_with(STEPS_PER_EXECUTION, default.steps_per_execution),
                                      default.steps_per_execution),
        "threads": Number(0, 64, default.threads, integer=True),
        "augmentation": Choice(tuple(AUGMENTATIONS), default.augmentation),
        "schedule": Choice(SCHEDULES, default.schedule),
    }


def default_values(fields: dict) -> dict:
    return {name: field.default for name, field in fields.items()}


def configs_from_values(values: dict, input_shape: tuple = (28, 28, 1),
                        num_classes: int = 10) -> tuple[ModelConfig, TrainConfig]:
    """The two configs the field `values` describe.

    Raises:
        ValueError: the values build no valid model or training (the message says why).
    """
    blocks = int(values["blocks"])
    if not 1 <= blocks <= MAX_CONV_BLOCKS:
        raise ValueError(f"Expected 1..{MAX_CONV_BLOCKS} conv blocks, got {blocks}.")
    model_config = ModelConfig(
        filters=tuple(int(values[f"filters{index}"]) for index in range(1, blocks + 1)),
        kernel_size=int(values["kernel"]), pooling=values["pooling"],
        dense_units=int(values["dense"]), dropout_rate=float(values["dropout"]),
        activation=values["activation"], input_shape=tuple(input_shape),
        num_classes=num_classes,
    )
    train_config = TrainConfig(
        optimizer=values["optimizer"], learning_rate=float(values["lr"]),
        batch_size=int(values["batch"]), epochs=int(values["epochs"]),
        validation_split=float(values["validation"]), seed=int(values["seed"]),
        subset=int(values["subset"]) or None, precision=values["precision"],
        steps_per_execution=int(values["steps_per_execution"]), threads=int(values["threads"]),
        augmentation=values["augmentation"], schedule=values["schedule"],
    )
    return model_config, train_config


def values_from_configs(model_config: ModelConfig, train_config: TrainConfig) -> dict:
    """The field values of two configs (the inverse of `configs_from_values`)."""
    filters = model_config.filters
    return {
        "subset": train_config.subset or 0, "validation": train_config.validation_split,
        "seed": train_config.seed, "blocks": len(filters),
        **{f"filters{index + 1}": count for index, count in enumerate(filters)},
        "kernel": model_config.kernel_size, "pooling": model_config.pooling,
        "dense": model_config.dense_units, "dropout": model_config.dropout_rate,
        "activation": model_config.activation, "optimizer": train_config.optimizer,
        "lr": train_config.learning_rate, "batch": train_config.batch_size,
        "epochs": train_config.epochs, "precision": train_config.precision,
        "steps_per_execution": train_config.steps_per_execution,
        "threads": train_config.threads, "augmentation": train_config.augmentation,
        "schedule": train_config.schedule,
    }
