"""This host's fastest execution settings, found by measuring them.

`run_calibration` trains the reference CNN on mnist-5k once per candidate setting (precision,
batch size with its learning rate, steps_per_execution, TensorFlow threads, input pipeline),
times the steady-state steps, checks the test accuracy against a float32 batch-32 baseline
trained in the same run on the same number of samples, and stores the fastest setting whose
accuracy holds (after measuring the finalists twice) in `LEPTON_HOME/fastpath.json`, keyed by a
fingerprint of the host. The Train page and the CLI start from `execution_settings(home)`: that
winner, or `SAFE_DEFAULT` before any calibration.

    python -m lepton.fastpath calibrate [--quick] [--json] [--home PATH]
    python -m lepton.fastpath measure --json < request.json   (child mode, see `measure`)

Modules: `candidates` (the settings), `fingerprint` (the host), `timing` and `measurement`
(training and timing them), `judging` (against the baseline), `store` (fastpath.json),
`calibration` (the search), `report` (the table) and `command` (the command line).
"""

from lepton.fastpath.calibration import (
    FINALISTS,
    PROGRESS_FILE,
    calibration_progress,
    confirm,
    run_calibration,
    start_calibration,
)
from lepton.fastpath.candidates import (
    BASELINE,
    SAFE_DEFAULT,
    Candidate,
    default_candidates,
    quick_candidates,
    second_stage_candidates,
)
from lepton.fastpath.command import main
from lepton.fastpath.fingerprint import fingerprint_key, host_fingerprint
from lepton.fastpath.judging import ACCURACY_TOLERANCE, choose, judge
from lepton.fastpath.measurement import EPOCHS, QUICK_EPOCHS, measure
from lepton.fastpath.report import format_table
from lepton.fastpath.store import (
    CALIBRATION_FILE,
    NOT_CALIBRATED,
    execution_settings,
    load_calibration,
    save_calibration,
)

__all__ = [
    "ACCURACY_TOLERANCE",
    "BASELINE",
    "CALIBRATION_FILE",
    "EPOCHS",
    "FINALISTS",
    "NOT_CALIBRATED",
    "PROGRESS_FILE",
    "QUICK_EPOCHS",
    "SAFE_DEFAULT",
    "Candidate",
    "calibration_progress",
    "choose",
    "confirm",
    "default_candidates",
    "execution_settings",
    "fingerprint_key",
    "format_table",
    "host_fingerprint",
    "judge",
    "load_calibration",
    "main",
    "measure",
    "quick_candidates",
    "run_calibration",
    "save_calibration",
    "second_stage_candidates",
    "start_calibration",
]
