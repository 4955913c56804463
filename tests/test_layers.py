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
