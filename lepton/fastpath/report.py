"""The measured rows as a Markdown table."""

from __future__ import annotations


def format_table(rows: list[dict]) -> str:
    """The rows as a Markdown table, fastest first; ★ marks the winner."""
    lines = [
        "| | precision | batch | learning rate | steps/execution | threads | pipeline | "
        "samples/s | ms/step | × baseline | test accuracy | Δ accuracy | holds | "
        "first epoch s | load | rounds (samples/s) |",
        "|---|---|---:|---:|---:|---:|---|---:|---:|---:|---:|---:|---|---:|---:|---|",
    ]

    def number(value, pattern):
        return "–" if value is None else format(value, pattern)

    ordered = sorted(rows, key=lambda row: -(row.get("samples_per_second") or 0))
    for row in ordered:
        mark = "★" if row.get("winner") else ("baseline" if row.get("baseline") else "")
        holds = {True: "yes", False: "no", None: "?"}[row.get("accuracy_holds")]
        if row.get("error"):
            holds = f"failed: {str(row['error'])[:80]}"
        delta = row.get("accuracy_delta")
        lines.append(
            f"| {mark} | {row['precision']} | {row['batch_size']} | {row['learning_rate']:.2g} | "
            f"{row['steps_per_execution']} | {row['threads'] or 'auto'} | {row['pipeline']} | "
            f"{number(row.get('samples_per_second'), ',.0f')} | "
            f"{number(row.get('ms_per_step'), '.2f')} | {number(row.get('speedup'), '.2f')} | "
            f"{number(row.get('test_accuracy'), '.1%')} | "
            f"{'–' if delta is None else f'{100 * delta:+.1f} pp'} | {holds} | "
            f"{number(row.get('first_epoch_seconds'), '.1f')} | "
            f"{number(row.get('load_average'), '.2f')} | "
            f"{' / '.join(f'{speed:,.0f}' for speed in row.get('round_samples_per_second', []))}"
            " |"
        )
    return "\n".join(lines)
