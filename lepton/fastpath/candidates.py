"""The execution settings a calibration measures: `Candidate`, the baseline, the safe default
and the candidate lists of each search stage."""

from __future__ import annotations

import dataclasses
import math
from dataclasses import dataclass

from lepton.fastpath.fingerprint import usable_cores
from lepton.train_config import PRECISIONS, TrainConfig

PIPELINES = ("arrays", "tf.data")
BASE_BATCH_SIZE = 64
BASE_LEARNING_RATE = 2e-3  # validated at batch 64 against the article's accuracy (BENCHMARKS.md)


def scaled_learning_rate(batch_size: int) -> float:
    """Adam's learning rate for `batch_size`, scaled from 2e-3 at batch 64 by the square root.

    Square root, not linear: Adam divides each step by the gradient's running RMS, so a k× larger
    batch, whose gradient noise is √k× smaller, keeps the same update noise at a √k× larger
    learning rate (Malladi et al., 2022, "On the SDEs and scaling rules for adaptive gradient
    algorithms"). Linear scaling (Goyal et al., 2017) is SGD's rule; with Adam it overshoots at
    large batches (2e-3 at 64 → 8e-3 at 256).
    """
    # 3 significant digits: a value the Train page can show as it is (0.00283, not 0.0028284…).
    return float(f"{BASE_LEARNING_RATE * math.sqrt(batch_size / BASE_BATCH_SIZE):.3g}")


@dataclass(frozen=True)
class Candidate:
    """One execution setting to measure; `learning_rate=None` scales it from the batch size."""

    precision: str = "float32"
    batch_size: int = BASE_BATCH_SIZE
    learning_rate: float | None = None
    steps_per_execution: int = 1
    threads: int = 0  # TensorFlow intra-op threads; 0 = TensorFlow's default
    pipeline: str = "arrays"  # "arrays": NumPy arrays to model.fit; "tf.data": a tf.data.Dataset

    def __post_init__(self):
        # Before scaling: a learning rate scaled from batch 0 would hide the real mistake.
        if not (isinstance(self.batch_size, int) and 1 <= self.batch_size <= 8192):
            raise ValueError(f"Expected batch_size in 1..8192, got {self.batch_size!r}.")
        if self.learning_rate is None:
            object.__setattr__(self, "learning_rate", scaled_learning_rate(self.batch_size))
        if self.pipeline not in PIPELINES:
            raise ValueError(f"Expected pipeline in {PIPELINES}, got {self.pipeline!r}.")
        TrainConfig(**self.train_changes())  # the training's own checks, with its messages

    def train_changes(self) -> dict:
        """The `TrainConfig` fields this setting sets (all but `pipeline`)."""
        return {"precision": self.precision, "batch_size": self.batch_size,
                "learning_rate": self.learning_rate,
                "steps_per_execution": self.steps_per_execution, "threads": self.threads}

    def to_dict(self) -> dict:
        return dataclasses.asdict(self)

    @classmethod
    def from_dict(cls, values: dict) -> Candidate:
        """The candidate of a dict such as a table row (other keys are ignored)."""
        known = {item.name for item in dataclasses.fields(cls)}
        return cls(**{key: value for key, value in values.items() if key in known})

    @property
    def label(self) -> str:
        return (f"{self.precision} · batch {self.batch_size} · lr {self.learning_rate:.2g} · "
                f"spe {self.steps_per_execution} · threads {self.threads or 'auto'} · "
                f"{self.pipeline}")


# The accuracy reference: the article's execution (float32, batch 32, one step per execution),
# at the scaled learning rate (1.41e-3, the article has 1e-3) like every other row.
BASELINE = Candidate("float32", 32, steps_per_execution=1)


def safe_default() -> Candidate:
    """The execution setting used before any calibration: safe on any x86 or ARM CPU.

    bfloat16 only where the CPU says it computes it natively (AVX512-BF16, AMX, ARM BF16): there
    it is the larger win; elsewhere it is emulated and slower than float32. Batch 128 (learning
    rate scaled by the square root) and 16 steps per execution cut Python round trips on every
    CPU; they only make progress and cancellation come every 16 steps. TensorFlow's own thread
    count, and the arrays pipeline that `lepton.training.fit` uses. A flag is a capability, not
    a measurement: `run_calibration` replaces all of this with what this host measured.
    """
    from lepton.host import bfloat16_fast

    precision = "mixed_bfloat16" if bfloat16_fast() else "float32"
    return Candidate(precision, 128, steps_per_execution=16)


SAFE_DEFAULT = safe_default()


def default_candidates() -> list[Candidate]:
    """Stage one of the search: precision × batch {32, 64, 128} × steps_per_execution {1, 16}.

    The baseline comes first. `second_stage_candidates` then varies threads and the pipeline of
    stage one's winner, and `confirm` measures the 3 fastest again: 12 + 3 + 3 trainings, 1.5 to 6
    minutes on 2 idle cores, by CPU (BENCHMARKS.md).
    """
    grid = [Candidate(precision, batch_size, steps_per_execution=steps)
            for precision in PRECISIONS for batch_size in (32, 64, 128) for steps in (1, 16)]
    return [BASELINE, *(candidate for candidate in grid if candidate != BASELINE)]


def second_stage_candidates(best: Candidate, cores: int | None = None) -> list[Candidate]:
    """Stage two: `best` on 1 thread and on every usable core, and fed by a tf.data pipeline."""
    cores = cores or usable_cores()
    thread_counts = sorted({1, cores} - {best.threads})
    variants = [dataclasses.replace(best, threads=threads) for threads in thread_counts]
    if best.pipeline == "arrays":
        variants.append(dataclasses.replace(best, pipeline="tf.data"))
    return variants


def quick_candidates() -> list[Candidate]:
    """A short search (about 30 s): the baseline, the safe default and two batch-128 settings."""
    return [BASELINE, SAFE_DEFAULT, Candidate("float32", 128, steps_per_execution=16),
            Candidate("mixed_bfloat16", 128, steps_per_execution=16)]
