"""`lepton prune`: a finished run pruned and fine-tuned in a worker process, JSON on stdout,
usage errors with the allowed range, exit codes."""

import json

import pytest

from lepton.cli import main
from lepton.registry import RunStore


def prune(*arguments: str) -> list[str]:
    return ["prune", *arguments]


def test_prune_prints_the_pruned_run_against_its_parent(finished_run, lepton_home, capsys):
    code = main(prune("--run", str(finished_run["id"]), "--sparsity", "0.8", "--epochs", "1",
                      "--json"))
    out, err = capsys.readouterr()
    assert code == 0, err[-3000:]
    document = json.loads(out)  # stdout holds the JSON document only
    assert document["status"] == "done" and document["reason"] == ""
    assert document["run_id"] == finished_run["id"] + 1
    assert document["parent_run_id"] == finished_run["id"]
    assert document["sparsity"] == pytest.approx(0.8, abs=0.005)
    assert document["pruning"] == {"parent_run_id": finished_run["id"], "sparsity": 0.8,
                                   "epochs": 1, "schedule": "gradual", "scope": "global"}
    keys = ("test_accuracy", "parent_test_accuracy", "gzip_bytes", "parent_gzip_bytes",
            "weights_gzip_bytes", "parent_weights_gzip_bytes", "int8_gzip_bytes",
            "int8_test_accuracy", "latency_ms")
    assert all(document[key] is not None for key in keys), document
    assert 0.0 <= document["test_accuracy"] <= 1.0
    assert document["parent_test_accuracy"] == 0.1
    assert document["gzip_bytes"] < document["parent_gzip_bytes"]
    assert document["int8_gzip_bytes"] < document["gzip_bytes"]
    assert document["weights_gzip_bytes"] < document["parent_weights_gzip_bytes"]
    assert f"run {document['run_id']}: pruning run {finished_run['id']} to 80% and " \
           "fine-tuning 1 epochs in worker process" in err

    run = RunStore(lepton_home).get_run(document["run_id"])
    assert run["status"] == "done"
    assert document["model_path"] == run["model_path"]
    assert run["train_config"]["prune"] == document["pruning"]
    assert run["metrics"]["sparsity"] == document["sparsity"]


def test_prune_without_json_prints_a_summary(finished_run, capsys):
    code = main(prune("--run", str(finished_run["id"]), "--sparsity", "0.5", "--epochs", "1",
                      "--schedule", "one-shot"))
    out, err = capsys.readouterr()
    assert code == 0, err[-3000:]
    assert f"% of the weights are zero (pruned from run {finished_run['id']})" in out
    assert "test accuracy" in out and "(parent 0.1000)" in out


@pytest.mark.parametrize("sparsity", ["1.5", "0.01"])
def test_a_sparsity_outside_the_range_is_a_usage_error(finished_run, lepton_home, capsys,
                                                       sparsity):
    code = main(prune("--run", str(finished_run["id"]), "--sparsity", sparsity, "--json"))
    out, err = capsys.readouterr()
    assert code == 2
    assert out == ""
    assert "error: Expected a sparsity in 0.05..0.99" in err and f"got {sparsity}" in err
    assert len(RunStore(lepton_home).list_runs()) == 1  # nothing was started


def test_too_many_epochs_is_a_usage_error_saying_the_range(finished_run, capsys):
    code = main(prune("--run", str(finished_run["id"]), "--sparsity", "0.8", "--epochs", "101"))
    _, err = capsys.readouterr()
    assert code == 2
    assert "Expected 1..100 fine-tuning epochs, got 101" in err


def test_an_unknown_schedule_is_a_usage_error_naming_the_choices(finished_run, capsys):
    code = main(prune("--run", str(finished_run["id"]), "--sparsity", "0.8", "--schedule",
                      "cubic"))
    _, err = capsys.readouterr()
    assert code == 2
    assert "Expected a schedule in ('gradual', 'one-shot'), got 'cubic'" in err


def test_an_unknown_run_exits_with_a_message(finished_run, lepton_home, capsys):
    code = main(prune("--run", "99", "--sparsity", "0.8", "--json"))
    out, err = capsys.readouterr()
    assert code == 2  # a usage error, as for `lepton export --run 999`
    assert out == ""
    assert "error: There is no run 99" in err
    assert len(RunStore(lepton_home).list_runs()) == 1


def test_a_pruned_run_is_refused_with_its_parent_named(finished_run, lepton_home, capsys):
    from lepton.pruning import PruneSpec, prune_config

    store = RunStore(lepton_home)
    child_id = store.create_run(finished_run["dataset"], finished_run["model_config"],
                                prune_config(finished_run, PruneSpec(finished_run["id"], 0.8)))
    store.update_run(child_id, status="done", model_path=finished_run["model_path"],
                     metrics={"sparsity": 0.8})
    code = main(prune("--run", str(child_id), "--sparsity", "0.9"))
    _, err = capsys.readouterr()
    assert code == 1
    assert f"Run {child_id} is already a pruned run; prune its parent " \
           f"{finished_run['id']} instead" in err
    assert len(store.list_runs()) == 2
