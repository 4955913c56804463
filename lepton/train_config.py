"""How to train, as a validated value: `TrainConfig` and the choices its fields take.

Kept apart from `lepton.training` so that reading or editing a configuration (the Train page,
a sweep's driver, the CLI that hands a training to its worker) never imports Keras.
"""

from __future__ import annotations

import dataclasses
import math
from dataclasses import dataclass

OPTIMIZERS = ("adam", "sgd", "rmsprop")
PRECISIONS = ("float32", "mixed_bfloat16")
SCHEDULES = ("constant", "cosine")
# Random shifts, small rotations and zoom, during training only. "mild" keeps digits legible.
AUGMENTATIONS = {
    "none": {},
    "mild": {"translation": 0.1, "rotation": 0.04, "zoom": 0.1},
}


@dataclass(frozen=True)
class TrainConfig:
    """How to train. `TrainConfig()` is the article's script as printed (float32, Adam 0.001,
    batch 32, 5 epochs, no augmentation); Lepton's default recipe lives in `lepton.recipes`."""

    optimizer: str = "adam"
    learning_rate: float = 1e-3  # Keras' Adam default, which the article's script uses
    batch_size: int = 32
    epochs: int = 5
    validation_split: float = 0.1  # taken from the end of the (already shuffled) training set
    seed: int = 0
    subset: int | None = None  # training samples to keep (stratified); None keeps all
    # bfloat16 compute with float32 weights: ~1.6× faster on CPUs with AMX/AVX512-BF16.
    precision: str = "float32"
    # Steps run per call into the compiled graph: fewer Python round trips; progress events and
    # cancellation then come once per execution instead of once per batch.
    steps_per_execution: int = 1
    threads: int = 0  # TensorFlow intra-op threads of the training process; 0 = its default
    augmentation: str = "none"  # a key of AUGMENTATIONS
    schedule: str = "constant"  # learning rate: constant, or cosine decay to 0 over the run

    def __post_init__(self):
        if self.optimizer not in OPTIMIZERS:
            raise ValueError(f"Expected optimizer in {OPTIMIZERS}, got {self.optimizer!r}.")
        if not (isinstance(self.learning_rate, (int, float)) and math.isfinite(self.learning_rate)):
            raise ValueError(f"Expected a finite learning_rate, got {self.learning_rate!r}.")
        # Keras' optimizers reject an int learning rate (e.g. 10), so store it as a float.
        object.__setattr__(self, "learning_rate", float(self.learning_rate))
        if not 0 < self.learning_rate <= 10:
            raise ValueError(
                f"Expected learning_rate in (0, 10], got {self.learning_rate}. "
                "Typical values are 1e-4 to 1e-2."
            )
        if not 1 <= self.batch_size <= 8192:
            raise ValueError(f"Expected batch_size in 1..8192, got {self.batch_size}.")
        if not 1 <= self.epochs <= 500:
            raise ValueError(f"Expected epochs in 1..500, got {self.epochs}.")
        if not 0 <= self.validation_split < 0.9:
            raise ValueError(
                f"Expected validation_split in [0, 0.9), got {self.validation_split}. "
                "Use 0 to train without a validation set."
            )
        if self.precision not in PRECISIONS:
            raise ValueError(f"Expected precision in {PRECISIONS}, got {self.precision!r}.")
        if not 1 <= self.steps_per_execution <= 256:
            raise ValueError(
                f"Expected steps_per_execution in 1..256, got {self.steps_per_execution}."
            )
        if not 0 <= self.threads <= 256:
            raise ValueError(
                f"Expected threads in 0..256 (0 = TensorFlow's default), got {self.threads}."
            )
        if self.augmentation not in AUGMENTATIONS:
            raise ValueError(
                f"Expected augmentation in {tuple(AUGMENTATIONS)}, got {self.augmentation!r}."
            )
        if self.schedule not in SCHEDULES:
            raise ValueError(f"Expected schedule in {SCHEDULES}, got {self.schedule!r}.")
        if self.seed < 0:
            raise ValueError(f"Expected a non-negative seed, got {self.seed}.")
        if self.subset is not None and self.subset < 10:
            raise ValueError(
                f"Expected subset ≥ 10 (one sample per class at least) or None, got {self.subset}."
            )

    def to_dict(self) -> dict:
        return dataclasses.asdict(self)

    @classmethod
    def from_dict(cls, values: dict) -> TrainConfig:
        known = {item.name for item in dataclasses.fields(cls)}
        return cls(**{key: value for key, value in values.items() if key in known})


def training_samples(count: int, validation_split: float) -> int:
    """Samples Keras trains on: the first floor(N × (1 − split)) (its train_validation_split)."""
    return math.floor(count * (1.0 - validation_split)) if validation_split else count
