"""A sweep's definition: what to search, for what, within which limits and budget, and where
it is kept (`LEPTON_HOME/sweeps/ID/spec.json`); how the app starts one in its own process."""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from pathlib import Path

from lepton.background import read_json, start, write_json_atomic
from lepton.data import available_datasets
from lepton.objectives import DEFAULT_OBJECTIVES, check_limits, parse_objectives
from lepton.recipes import default_config
from lepton.registry import default_home
from lepton.sweep_space import DEFAULT_SPACE, SearchSpace, parse_space
from lepton.sweep_state import new_sweep_folder, sweep_folder
from lepton.train_fields import train_fields

SAMPLERS = ("tpe", "grid")


class SweepError(RuntimeError):
    """A sweep cannot start or go on (the message says why and what to do)."""


@dataclass(frozen=True)
class SweepSpec:
    """What to search, for what, within which limits and budget."""

    dataset: str
    trials: int
    objectives: tuple[str, ...] = DEFAULT_OBJECTIVES
    limits: dict = field(default_factory=dict)  # see lepton.objectives.LIMITS
    space: dict = field(default_factory=dict)  # SearchSpace.to_dict()
    timeout_seconds: float | None = None  # no new trials after this; running ones finish
    seed: int | None = None
    scheduler: str = ""  # "" starts a Dask LocalCluster on this host
    sampler: str = "tpe"  # or "grid": every setup of a space of choices, in a seeded order

    def __post_init__(self):
        object.__setattr__(self, "objectives", parse_objectives(",".join(self.objectives)))
        object.__setattr__(self, "limits", check_limits(dict(self.limits)))
        if not 1 <= self.trials <= 10000:
            raise ValueError(f"Expected 1..10000 trials, got {self.trials}.")
        if self.timeout_seconds is not None and not self.timeout_seconds > 0:
            raise ValueError(f"Expected a timeout in seconds > 0, got {self.timeout_seconds}.")
        if self.scheduler and not self.scheduler.startswith(("tcp://", "tls://", "inproc://")):
            raise ValueError(f"Expected a Dask scheduler address such as tcp://HOST:8786, got "
                             f"{self.scheduler!r}.")
        if self.sampler not in SAMPLERS:
            raise ValueError(f"Expected a sampler in {SAMPLERS}, got {self.sampler!r}.")
        if self.sampler == "grid" and self.space and self.search_space.size() is None:
            raise ValueError("A grid needs choices or integer ranges only; give the float "
                             "ranges (e.g. dropout) as choices.")
        if not self.space:
            raise ValueError("Give the sweep a search space (make_spec does).")

    def to_dict(self) -> dict:
        return {**asdict(self), "objectives": list(self.objectives)}

    @classmethod
    def from_dict(cls, values: dict) -> SweepSpec:
        return cls(**{**values, "objectives": tuple(values["objectives"])})

    @property
    def search_space(self) -> SearchSpace:
        return SearchSpace.from_dict(self.space)


def make_spec(dataset: str, trials: int, space: str = DEFAULT_SPACE,
              home: str | Path | None = None, **options) -> SweepSpec:
    """A spec whose space is text (see `lepton.sweep_space.parse_space`) over this host's
    default recipe.

    Raises:
        ValueError: an unknown dataset, or anything `SweepSpec` or the space refuses.
    """
    if dataset not in available_datasets(home):
        raise ValueError(f"Unknown dataset {dataset!r}. Choose one of: "
                         f"{', '.join(available_datasets(home))}.")
    fields = train_fields(default_config(home))
    return SweepSpec(dataset=dataset, trials=trials,
                     space=parse_space(space, fields).to_dict(), **options)


def create_sweep(spec: SweepSpec, home: str | Path | None = None) -> int:
    """Stores a new sweep's spec; returns its id. `run_sweep` (or `start_sweep`) runs it."""
    home = Path(home or default_home())
    sweep_id = new_sweep_folder(home)
    write_json_atomic(sweep_folder(home, sweep_id) / "spec.json", spec.to_dict())
    return sweep_id


def read_spec(sweep_id: int, home: str | Path | None = None) -> SweepSpec:
    values = read_json(sweep_folder(home or default_home(), sweep_id) / "spec.json")
    if not isinstance(values, dict):
        raise ValueError(f"There is no sweep {sweep_id} in {home or default_home()}.")
    return SweepSpec.from_dict(values)


def start_sweep(sweep_id: int, home: str | Path | None = None):
    """Runs a stored sweep in its own background process (`lepton sweep --resume ID`)."""
    folder = sweep_folder(home or default_home(), sweep_id)
    (folder / "stop-requested").unlink(missing_ok=True)
    return start(["lepton", "sweep", "--resume", str(sweep_id)], folder / "driver.log",
                 folder / "progress.json")


def summary(state: dict) -> dict:
    """The `lepton sweep --json` document of a sweep's view."""
    return {
        "sweep_id": state["sweep_id"], "status": state["status"], "reason": state["reason"],
        "objectives": state["spec"]["objectives"], "study": state["study"],
        "storage": state["storage"],
        "trials": [{"number": trial["number"], "run_id": trial["run_id"],
                    "status": trial["status"], "params": trial["params"],
                    "values": trial.get("values") or {}, "feasible": trial.get("feasible"),
                    "worker": trial.get("worker", ""), "reason": trial.get("reason", "")}
                   for trial in state["trials"]],
        "pareto": state["pareto"],
        "recommended": None if state["recommended"] is None else {
            key: state["recommended"][key] for key in ("run_id", "params", "values")},
    }
