"""Single node vs many: does data-parallel training on N nodes beat one, and at what cost?

Every number comes from `lepton.scaling`; this page only collects inputs and shows results.
"""


import pandas as pd
import streamlit as st

from lepton import scaling
from lepton.scaling_charts import scaling_chart
from pages.common import cost_settings, get_store

KEY_NODES = (1, 2, 4, 8, 16, 32, 64)
NODE_RANGE = range(1, 65)


def _tex(value: float, spec: str = ",") -> str:
    """A number for st.latex: thousands commas braced, so KaTeX adds no space after them."""
    return format(value, spec).replace(",", "{,}")


def _duration(seconds: float) -> str:
    if seconds < 120:
        return f"{seconds:,.1f} s"
    if seconds < 7200:
        return f"{seconds / 60:,.1f} min"
    return f"{seconds / 3600:,.2f} h"


def calibration_ui() -> dict:
    """Says where the single-node throughput comes from; returns the default input values."""
    calibration = scaling.calibrate_from_runs(get_store().list_runs("done"))
    defaults = {
        "samples_per_epoch": 60_000,
        "epochs": 5,
        "global_batch_size": 32,
        "parameter_count": scaling.REFERENCE_PARAMS,
        "bytes_per_parameter": 4,
        "samples_per_second": scaling.ARTICLE_SAMPLES_PER_SECOND,
        "bandwidth_gbit_per_s": 10.0,
        "latency_us": 50.0,
        "overhead_factor": 1.0,
        "price_per_node_hour": float(cost_settings().price_per_hour),
        "startup_seconds": 30.0,
    }
    if calibration is None:
        st.warning(
            f"Single-node speed: **{scaling.ARTICLE_SAMPLES_PER_SECOND:,.0f} samples/s**, the "
            "article-script figure on a 2-core host, not measured here — train a run to "
            "calibrate.", icon=":material/science:")
    else:
        defaults.update(samples_per_second=round(calibration.samples_per_second, 1),
                        parameter_count=calibration.parameter_count,
                        global_batch_size=calibration.batch_size)
        st.info(f"Single-node speed: **{calibration.samples_per_second:,.0f} samples/s**, "
                f"measured here. {calibration.describe()}", icon=":material/speed:")
    return defaults


def _reset(defaults: dict) -> None:
    for name, value in defaults.items():
        st.session_state[f"scaling_{name}"] = value


def inputs_ui(defaults: dict) -> scaling.ScalingInputs | None:
    """Editable inputs, started from the calibrated defaults; None with an error when refused."""
    for name, value in defaults.items():
        st.session_state.setdefault(f"scaling_{name}", value)
    currency = cost_settings().currency
    workload, model, network, money = st.columns(4)
    with workload:
        st.markdown("**Workload**")
        st.number_input("Samples per epoch", 1, 10**9, step=1000, key="scaling_samples_per_epoch")
        st.number_input("Epochs", 1, 100_000, key="scaling_epochs")
        st.number_input("Global batch size", 1, 1_000_000, key="scaling_global_batch_size",
                        help="Fixed for every N (strong scaling): each node gets batch / N.")
    with model:
        st.markdown("**Model and host**")
        st.number_input("Parameters", 1, 10**12, step=1000, key="scaling_parameter_count",
                        help=f"Gradients all-reduced per step. The reference CNN has "
                             f"{scaling.REFERENCE_PARAMS:,}.")
        st.number_input("Bytes per parameter", 1, 8, key="scaling_bytes_per_parameter",
                        help="4 for float32 gradients, 2 for bfloat16.")
        st.number_input("One node's samples/s", 0.1, 1e9, step=100.0, format="%.1f",
                        key="scaling_samples_per_second",
                        help="Training throughput of one node at steady state.")
    with network:
        st.markdown("**Network**")
        st.number_input("Bandwidth (Gbit/s)", 0.001, 10_000.0, step=1.0, format="%.3f",
                        key="scaling_bandwidth_gbit_per_s", help="Per node, each direction.")
        st.number_input("Latency per message (µs)", 0.0, 1e6, step=10.0,
                        key="scaling_latency_us",
                        help="A ring all-reduce sends 2·(N−1) messages per step.")
        st.number_input("Overhead factor", 0.01, 1e6, step=0.5, key="scaling_overhead_factor",
                        help="Multiplies the communication term. 1 is the ideal model. "
                             "benchmarks/multiworker.py measured about 8 here: two local "
                             "workers on loopback, where the network itself costs nothing "
                             "(benchmarks/results/multiworker.md).")
    with money:
        st.markdown("**Money and start-up**")
        st.number_input(f"Price per node-hour ({currency})", 0.0, 1e6, step=0.01, format="%.3f",
                        key="scaling_price_per_node_hour",
                        help="Starts at the host price of the sidebar.")
        st.number_input("Start-up per node (s)", 0.0, 86_400.0, step=10.0,
                        key="scaling_startup_seconds",
                        help="Boot, data loading, graph building. Nodes start in parallel: "
                             "wall time pays it once, the bill N times.")
        st.button("Reset to calibrated values", icon=":material/restart_alt:",
                  on_click=_reset, args=(defaults,), key="scaling_reset")
    values = {name: st.session_state[f"scaling_{name}"] for name in defaults}
    try:
        return scaling.ScalingInputs(**values)
    except ValueError as error:
        st.error(f"These inputs are refused: {error}", icon=":material/block:")
        return None


def verdict_ui(rows: list[dict], verdict: dict, currency: str) -> None:
    one, last_row = rows[0], rows[-1]
    if verdict["one_node_wins"]:
        two = rows[1]
        st.warning(
            f"**One node wins.** No N from 2 to {last_row['nodes']} finishes before a single "
            f"node: at N = 2 the all-reduce adds {two['communication_seconds'] * 1e3:,.2f} ms "
            f"per step while splitting the batch saves only "
            f"{(one['compute_seconds'] - two['compute_seconds']) * 1e3:,.2f} ms.",
            icon=":material/looks_one:")
    else:
        fastest = rows[verdict["fastest"] - 1]
        beyond = (f" Beyond N = {verdict['last_faster']} one node is faster again."
                  if verdict["last_faster"] < last_row["nodes"] else "")
        money = (f" for {fastest['cost'] / one['cost']:.2f}× the money" if one["cost"] else "")
        st.success(
            f"**Many nodes are faster** from N = {verdict['first_faster']} to "
            f"N = {verdict['last_faster']}. The fastest is N = {fastest['nodes']}: "
            f"{fastest['speedup']:.2f}× one node ({_duration(fastest['total_seconds'])} instead "
            f"of {_duration(one['total_seconds'])}){money}.{beyond}",
            icon=":material/hub:")
    if verdict["cheapest"] == 1:
        st.caption("One node is the cheapest choice: with a fixed global batch, N nodes "
                   "never use fewer node-hours than one, so more nodes buy time with money.")
    fastest = rows[verdict["fastest"] - 1]
    many = fastest["nodes"] > 1
    columns = st.columns(4)
    columns[0].metric("One node", _duration(one["total_seconds"]),
                      help=f"{currency}{one['cost']:,.4f}")
    columns[1].metric("Fastest N", fastest["nodes"])
    columns[2].metric("Its speed-up", f"{fastest['speedup']:.2f}×",
                      f"efficiency {fastest['efficiency']:.0%}" if many else None,
                      delta_color="off", delta_arrow="off")
    columns[3].metric("Its cost", f"{currency}{fastest['cost']:,.4f}",
                      f"{fastest['cost'] / one['cost']:.2f}× one node"
                      if many and one["cost"] else None, delta_color="inverse")


def formulas_ui(inputs: scaling.ScalingInputs, rows: list[dict]) -> None:
    st.markdown(r"With $D$ samples per epoch, $E$ epochs, global batch $B$, $P$ parameters of "
                r"$b$ bytes, one node's throughput $r$, bandwidth $W$, per-message latency "
                r"$\lambda$, overhead factor $k$, start-up $t_0$ and price $p$ per node-hour:")
    st.latex(r"S = E \cdot \left\lceil D / B \right\rceil \qquad "
             r"t_\mathrm{compute}(N) = \frac{\lceil B / N \rceil}{r}")
    st.latex(r"t_\mathrm{comm}(N) = k \left( \frac{2(N-1)}{N} \cdot \frac{P\,b}{W} "
             r"+ 2(N-1)\,\lambda \right)")
    st.latex(r"T(N) = S \cdot \bigl(t_\mathrm{compute}(N) + t_\mathrm{comm}(N)\bigr) + t_0 "
             r"\qquad \mathrm{cost}(N) = \frac{T(N)}{3600\,\mathrm{s/h}} \cdot N \cdot p")
    st.latex(r"\mathrm{speed\text{-}up}(N) = \frac{T(1)}{T(N)} \qquad "
             r"\mathrm{efficiency}(N) = \frac{\mathrm{speed\text{-}up}(N)}{N}")
    st.latex(r"N \text{ nodes beat one} \iff t_\mathrm{comm}(N) < t_\mathrm{compute}(1) "
             r"- t_\mathrm{compute}(N) \quad \text{(start-up cancels)}")
    detail = st.select_slider("Numbers for N =", [row["nodes"] for row in rows], value=8,
                              key="scaling_detail_nodes")
    row = rows[detail - 1]
    st.latex(
        rf"S = {inputs.epochs} \cdot \lceil {inputs.samples_per_epoch} / "
        rf"{inputs.global_batch_size} \rceil = {_tex(row['steps'])} \qquad "
        rf"t_\mathrm{{compute}} = \frac{{{row['per_node_batch']}}}"
        rf"{{{inputs.samples_per_second:g}}} = {row['compute_seconds'] * 1e3:.3f}\,\mathrm{{ms}}"
    )
    factor = inputs.overhead_factor or 1.0
    st.latex(
        rf"t_\mathrm{{comm}} = {factor:g} \left( \frac{{2 \cdot {detail - 1}}}{{{detail}}} "
        rf"\cdot \frac{{{_tex(inputs.parameter_bytes)}\,\mathrm{{B}}}}"
        rf"{{{_tex(inputs.bandwidth_bytes_per_s / 1e6, ',.3f')}\,\mathrm{{MB/s}}}} + "
        rf"{row['messages_per_step']} \cdot {inputs.latency_us:g}\,\mu\mathrm{{s}} \right) = "
        rf"{row['communication_seconds'] * 1e3:.3f}\,\mathrm{{ms}}"
    )
    st.latex(
        rf"T({detail}) = {_tex(row['steps'])} \cdot {row['step_seconds'] * 1e3:.3f}\,\mathrm{{ms}} "
        rf"+ {inputs.startup_seconds:g}\,\mathrm{{s}} = {_tex(row['total_seconds'], ',.1f')}\,"
        rf"\mathrm{{s}} \qquad \mathrm{{speed\text{{-}}up}} = {row['speedup']:.3f}"
    )


def table_ui(rows: list[dict], verdict: dict, currency: str) -> None:
    marks = {verdict["first_faster"], verdict["last_faster"], verdict["fastest"],
             verdict["cheapest"]}
    chosen = sorted(set(KEY_NODES) | {n for n in marks if n is not None})
    table = pd.DataFrame([{
        "nodes": row["nodes"],
        "per-node batch": row["per_node_batch"],
        "compute ms/step": row["compute_seconds"] * 1e3,
        "communication ms/step": row["communication_seconds"] * 1e3,
        "communication share": row["communication_seconds"] / row["step_seconds"],
        "total time": _duration(row["total_seconds"]),
        "speed-up": row["speedup"],
        "efficiency": row["efficiency"],
        "cost": row["cost"],
        "beats one node": row["faster_than_one_node"],
        "idle nodes": row["idle_nodes"],
    } for row in rows if row["nodes"] in chosen])
    st.dataframe(table, hide_index=True, key="scaling_table", column_config={
        "compute ms/step": st.column_config.NumberColumn(format="%.3f"),
        "communication ms/step": st.column_config.NumberColumn(format="%.3f"),
        "communication share": st.column_config.NumberColumn(format="percent"),
        "speed-up": st.column_config.NumberColumn(format="%.2f×"),
        "efficiency": st.column_config.NumberColumn(format="percent"),
        "cost": st.column_config.NumberColumn(f"cost ({currency})", format="%.4f"),
    })
    st.download_button("Download all 64 rows (CSV)", pd.DataFrame(rows).to_csv(index=False),
                       "lepton-scaling.csv", "text/csv", icon=":material/download:",
                       key="scaling_download")


def assumptions_ui() -> None:
    st.markdown(
        "- **Strong scaling**: the global batch stays the same for every N, so the optimisation "
        "(and the number of steps) is the same as on one node. Each node takes ⌈B/N⌉ samples; "
        "the largest shard sets the pace, and nodes beyond B get nothing to do.\n"
        "- **Ring all-reduce** of all gradients once per step: 2·(N−1) messages, each carrying "
        "1/N of the gradient bytes. Bandwidth is per node and each direction.\n"
        "- **No overlap** of compute and communication (real frameworks overlap some of it, "
        "which helps many nodes), no gradient compression.\n"
        "- **Overhead factor** scales the whole communication term, as if software overhead "
        "(synchronisation, serialisation) grew with N like the ring does; it was measured at "
        "N = 2 only.\n"
        "- **Identical nodes, no stragglers**: every node trains at the measured single-node "
        "samples/s, whatever its batch. Small per-node batches are usually slower per sample, "
        "so many nodes are estimated optimistically.\n"
        "- **Start-up** is paid once in wall time (nodes start together) and by every node in "
        "cost. Evaluation, checkpoints and data loading are left out.\n"
        "- **Price** is per node-hour, billed for the whole run, without minimum billing "
        "periods or network charges."
    )


st.title("Single node vs many")
st.caption("The article (section 2.2) says training on a single node avoids the communication "
           "overhead of distributed training, without a number. This estimate puts one on it: "
           "time and cost of data-parallel training on N = 1…64 nodes.")
defaults = calibration_ui()
inputs = inputs_ui(defaults)
if inputs is None:
    st.stop()
currency = cost_settings().currency
rows = scaling.sweep(inputs, NODE_RANGE)
verdict = scaling.break_even(inputs, NODE_RANGE)
verdict_ui(rows, verdict, currency)
st.plotly_chart(scaling_chart(rows, verdict, currency), key="scaling_chart")
st.subheader("Key node counts")
table_ui(rows, verdict, currency)
st.subheader("Formulas")
formulas_ui(inputs, rows)
st.subheader("Assumptions")
assumptions_ui()
