"""Rows judged against the baseline's accuracy, and the fastest one that holds."""

from __future__ import annotations

from lepton.fastpath.candidates import BASELINE

# One seeded run per candidate, tested on 1,000 digits: at ~97 % accuracy the standard error of
# one measurement is ~0.5 pp, and seed-to-seed spread of a run is of the same size. 1.5 pp is
# ~3 standard errors of the difference: noise does not disqualify a setting, a real loss does.
ACCURACY_TOLERANCE = 0.015


def judge(rows: list[dict]) -> list[dict]:
    """Rows with `accuracy_holds`, `accuracy_delta` and `speedup` against the baseline's row.

    Accuracy holds when it is at most `ACCURACY_TOLERANCE` (1.5 pp) below the baseline's; it is
    None for every row when no baseline row succeeded, since there is nothing to compare with.
    """
    baseline_fields = BASELINE.to_dict()
    baseline = next((row for row in rows if not row.get("error")
                     and all(row.get(key) == value for key, value in baseline_fields.items())),
                    None)
    judged = []
    for row in rows:
        verdict = {"baseline": row is baseline, "accuracy_delta": None, "speedup": None,
                   "accuracy_holds": False if row.get("error") else None}
        if baseline is not None and not row.get("error"):
            delta = row["test_accuracy"] - baseline["test_accuracy"]
            verdict.update(accuracy_delta=delta, accuracy_holds=delta >= -ACCURACY_TOLERANCE,
                           speedup=row["samples_per_second"] / baseline["samples_per_second"])
        judged.append({**row, **verdict})
    return judged


def _qualified(rows: list[dict]) -> list[dict]:
    return [row for row in rows if row.get("accuracy_holds") is True
            and not row.get("error") and row.get("samples_per_second")]


def choose(rows: list[dict]) -> dict:
    """The fastest row whose accuracy holds; only confirmed rows compete when there are any.

    Raises:
        ValueError: no row qualifies (all failed, or none kept the baseline's accuracy).
    """
    qualified = _qualified(rows)
    if not qualified:
        raise ValueError(
            f"None of the {len(rows)} measured settings kept the baseline's accuracy (the "
            "float32 batch-32 row must be among them and succeed). See the table's error column "
            "and measure again, on a quieter host if the errors are timeouts."
        )
    # A confirmed row's speed is a mean of two rounds: a one-round row is no fair rival to it.
    qualified = [row for row in qualified if row.get("confirmed")] or qualified
    return max(qualified, key=lambda row: row["samples_per_second"])
