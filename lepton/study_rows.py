"""A sweep's Optuna trials as rows the page and the CLI show, and the reasons kept with them."""

from __future__ import annotations

from lepton.i18n import Message


def keep_reason(set_attribute, reason) -> None:
    """Keeps a trial's reason in the study, and its message so it reads in any language."""
    set_attribute("reason", str(reason))
    if isinstance(reason, Message):
        set_attribute("reason_message", reason.to_dict())


def recorded_reason(document: dict, name: str, text=None) -> dict:
    """`document` with `name` as text and, for a Message, `name_message` (lepton.i18n.recorded)."""
    text = document.get(name, "") if text is None else text
    document = {**document, name: str(text)}
    if isinstance(text, Message):
        document[f"{name}_message"] = text.to_dict()
    return document


def state_name(trial) -> str:
    import optuna

    if trial.user_attrs.get("interrupted"):
        return "interrupted"
    return {optuna.trial.TrialState.COMPLETE: "done", optuna.trial.TrialState.PRUNED: "pruned",
            optuna.trial.TrialState.RUNNING: "running"}.get(trial.state, "failed")


def trial_row(trial, objectives: tuple[str, ...]) -> dict:
    """A finished or interrupted trial of an earlier driver, from what the study kept."""
    import optuna

    measured = trial.user_attrs.get("figures") or {}
    done = trial.state == optuna.trial.TrialState.COMPLETE
    over = {key.split(":", 1)[1]: value for key, value in trial.system_attrs.items()
            if key.startswith("constraints:")} if done else {}
    return {
        "number": trial.number, "run_id": trial.user_attrs.get("run_id"),
        "params": dict(trial.params), "setup": trial.user_attrs.get("setup", {}),
        "status": state_name(trial),
        "values": dict(zip(objectives, trial.values)) if done else {},
        "figures": measured, "violations": over,
        "feasible": all(value <= 0 for value in over.values()) if done else None,
        "worker": trial.user_attrs.get("worker", ""),
        "cpu": trial.user_attrs.get("cpu", ""),
        "reason": trial.user_attrs.get("reason", ""),
        **({"reason_message": trial.user_attrs["reason_message"]}
           if "reason_message" in trial.user_attrs else {}),
        "trial_seconds": trial.user_attrs.get("trial_seconds"),
    }
