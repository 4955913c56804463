"""The code's shape: no import cycles in lepton, and the layer contracts of pyproject.toml."""

import subprocess
import sys
from pathlib import Path

import grimp

PROJECT = Path(__file__).resolve().parent.parent


def test_no_lepton_module_imports_itself_through_others():
    graph = grimp.build_graph("lepton")
    modules = sorted(graph.modules)
    cycles = [
        (first, second) for index, first in enumerate(modules) for second in modules[index + 1:]
        if graph.chain_exists(first, second) and graph.chain_exists(second, first)
    ]
    assert not cycles, f"import cycles between {cycles}"


def test_the_layer_contracts_hold():
    lint = Path(sys.executable).with_name("lint-imports")
    result = subprocess.run([str(lint)], cwd=PROJECT, capture_output=True, text=True)
    assert result.returncode == 0, result.stdout + result.stderr


def test_processes_that_only_hand_work_over_import_no_keras():
    # The CLI that hands a training to its worker, a sweep's driver and the Train page's
    # configuration would otherwise each pay Keras' import (seconds of CPU, ~0.8 GB).
    modules = ["lepton.cli", "lepton.jobs", "lepton.sweeps", "lepton.sweep_spec",
               "lepton.recipes", "lepton.train_fields", "lepton.train_config", "lepton.fastpath"]
    probe = (f"import sys\nfor name in {modules!r}: __import__(name)\n"
             "print(sorted(name for name in ('keras', 'tensorflow') if name in sys.modules))")
    result = subprocess.run([sys.executable, "-c", probe], cwd=PROJECT, capture_output=True,
                            text=True, timeout=120)
    assert result.returncode == 0, result.stderr[-2000:]
    assert result.stdout.strip() == "[]"
