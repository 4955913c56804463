"""Single node vs many: does data-parallel training on N nodes beat one, and at what cost?

Every number comes from `lepton.scaling`; this page only collects inputs and shows results.
"""


import pandas as pd
import streamlit as st

from lepton import scaling
from lepton.scaling_charts import scaling_chart
from pages.common import cost_settings, get_snapshot, language, t

KEY_NODES = (1, 2, 4, 8, 16, 32, 64)
NODE_RANGE = range(1, 65)
# Table columns without a number format: frame name → catalogue name ("scaling.column_…").
TABLE_COLUMNS = {"nodes": "nodes", "per-node batch": "per_node_batch", "total time": "total_time",
                 "beats one node": "beats_one_node", "idle nodes": "idle_nodes"}


def _tex(value: float, spec: str = ",") -> str:
    """A number for st.latex: thousands commas braced, so KaTeX adds no space after them."""
    return format(value, spec).replace(",", "{,}")


def _duration(seconds: float) -> str:
    if seconds < 120:
        return t("scaling.seconds", value=f"{seconds:,.1f}")
    if seconds < 7200:
        return t("scaling.minutes", value=f"{seconds / 60:,.1f}")
    return t("scaling.hours", value=f"{seconds / 3600:,.2f}")


def _calibration_text(calibration: scaling.Calibration) -> str:
    """Where the measured speed comes from: which runs, which model, which batch size."""
    model = (t("scaling.model_reference") if calibration.reference_model else
             t("scaling.model_other", params=f"{calibration.parameter_count:,}",
               reference=f"{scaling.REFERENCE_PARAMS:,}"))
    count = len(calibration.run_ids)
    return t("scaling.calibration_one" if count == 1 else "scaling.calibration_many",
             count=count, model=model, batch=calibration.batch_size,
             runs=", ".join(str(run_id) for run_id in calibration.run_ids))


def calibration_ui() -> dict:
    """Says where the single-node throughput comes from; returns the default input values."""
    calibration = scaling.calibrate_from_runs(get_snapshot().runs())
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
        st.warning(t("scaling.speed_from_article",
                     speed=f"{scaling.ARTICLE_SAMPLES_PER_SECOND:,.0f}"),
                   icon=":material/science:")
    else:
        defaults.update(samples_per_second=round(calibration.samples_per_second, 1),
                        parameter_count=calibration.parameter_count,
                        global_batch_size=calibration.batch_size)
        st.info(t("scaling.speed_measured", speed=f"{calibration.samples_per_second:,.0f}",
                  source=_calibration_text(calibration)), icon=":material/speed:")
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
        st.markdown(t("scaling.workload"))
        st.number_input(t("scaling.samples_per_epoch"), 1, 10**9, step=1000,
                        key="scaling_samples_per_epoch")
        st.number_input(t("scaling.epochs"), 1, 100_000, key="scaling_epochs")
        st.number_input(t("scaling.global_batch_size"), 1, 1_000_000,
                        key="scaling_global_batch_size", help=t("scaling.global_batch_size_help"))
    with model:
        st.markdown(t("scaling.model_and_host"))
        st.number_input(t("scaling.parameters"), 1, 10**12, step=1000,
                        key="scaling_parameter_count",
                        help=t("scaling.parameters_help",
                               reference=f"{scaling.REFERENCE_PARAMS:,}"))
        st.number_input(t("scaling.bytes_per_parameter"), 1, 8,
                        key="scaling_bytes_per_parameter",
                        help=t("scaling.bytes_per_parameter_help"))
        st.number_input(t("scaling.samples_per_second"), 0.1, 1e9, step=100.0, format="%.1f",
                        key="scaling_samples_per_second",
                        help=t("scaling.samples_per_second_help"))
    with network:
        st.markdown(t("scaling.network"))
        st.number_input(t("scaling.bandwidth"), 0.001, 10_000.0, step=1.0, format="%.3f",
                        key="scaling_bandwidth_gbit_per_s", help=t("scaling.bandwidth_help"))
        st.number_input(t("scaling.latency"), 0.0, 1e6, step=10.0, key="scaling_latency_us",
                        help=t("scaling.latency_help"))
        st.number_input(t("scaling.overhead_factor"), 0.01, 1e6, step=0.5,
                        key="scaling_overhead_factor", help=t("scaling.overhead_factor_help"))
    with money:
        st.markdown(t("scaling.money_and_startup"))
        st.number_input(t("scaling.price_per_node_hour", currency=currency), 0.0, 1e6, step=0.01,
                        format="%.3f", key="scaling_price_per_node_hour",
                        help=t("scaling.price_per_node_hour_help"))
        st.number_input(t("scaling.startup"), 0.0, 86_400.0, step=10.0,
                        key="scaling_startup_seconds", help=t("scaling.startup_help"))
        st.button(t("scaling.reset"), icon=":material/restart_alt:",
                  on_click=_reset, args=(defaults,), key="scaling_reset")
    values = {name: st.session_state[f"scaling_{name}"] for name in defaults}
    try:
        return scaling.ScalingInputs(**values)
    except ValueError as error:
        st.error(t("scaling.inputs_refused", reason=str(error)), icon=":material/block:")
        return None


def verdict_ui(rows: list[dict], verdict: dict, currency: str) -> None:
    one, last_row = rows[0], rows[-1]
    if verdict["one_node_wins"]:
        two = rows[1]
        st.warning(t("scaling.one_node_wins", last=last_row["nodes"],
                     communication=f"{two['communication_seconds'] * 1e3:,.2f}",
                     saved=f"{(one['compute_seconds'] - two['compute_seconds']) * 1e3:,.2f}"),
                   icon=":material/looks_one:")
    else:
        fastest = rows[verdict["fastest"] - 1]
        beyond = (t("scaling.beyond", last=verdict["last_faster"])
                  if verdict["last_faster"] < last_row["nodes"] else "")
        money = (t("scaling.for_money", ratio=f"{fastest['cost'] / one['cost']:.2f}")
                 if one["cost"] else "")
        st.success(t("scaling.many_nodes_faster", first=verdict["first_faster"],
                     last=verdict["last_faster"], fastest=fastest["nodes"],
                     speedup=f"{fastest['speedup']:.2f}",
                     time=_duration(fastest["total_seconds"]),
                     one_time=_duration(one["total_seconds"]), money=money, beyond=beyond),
                   icon=":material/hub:")
    if verdict["cheapest"] == 1:
        st.caption(t("scaling.one_node_cheapest"))
    fastest = rows[verdict["fastest"] - 1]
    many = fastest["nodes"] > 1
    columns = st.columns(4)
    columns[0].metric(t("scaling.metric_one_node"), _duration(one["total_seconds"]),
                      help=f"{currency}{one['cost']:,.4f}")
    columns[1].metric(t("scaling.metric_fastest_n"), fastest["nodes"])
    columns[2].metric(t("scaling.metric_speedup"), f"{fastest['speedup']:.2f}×",
                      t("scaling.metric_efficiency", efficiency=f"{fastest['efficiency']:.0%}")
                      if many else None,
                      delta_color="off", delta_arrow="off")
    columns[3].metric(t("scaling.metric_cost"), f"{currency}{fastest['cost']:,.4f}",
                      t("scaling.metric_cost_ratio", ratio=f"{fastest['cost'] / one['cost']:.2f}")
                      if many and one["cost"] else None, delta_color="inverse")


def formulas_ui(inputs: scaling.ScalingInputs, rows: list[dict]) -> None:
    st.markdown(t("scaling.formulas_intro"))
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
    detail = st.select_slider(t("scaling.numbers_for_n"), [row["nodes"] for row in rows], value=8,
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
    table = pd.DataFrame([{  # stable column names; the catalogue's labels are shown
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
    column_config = {name: st.column_config.Column(t(f"scaling.column_{key}"))
                     for name, key in TABLE_COLUMNS.items()}
    column_config.update({
        "compute ms/step": st.column_config.NumberColumn(t("scaling.column_compute"),
                                                         format="%.3f"),
        "communication ms/step": st.column_config.NumberColumn(
            t("scaling.column_communication"), format="%.3f"),
        "communication share": st.column_config.NumberColumn(
            t("scaling.column_communication_share"), format="percent"),
        "speed-up": st.column_config.NumberColumn(t("scaling.column_speedup"), format="%.2f×"),
        "efficiency": st.column_config.NumberColumn(t("scaling.column_efficiency"),
                                                    format="percent"),
        "cost": st.column_config.NumberColumn(t("scaling.column_cost", currency=currency),
                                              format="%.4f"),
    })
    st.dataframe(table, hide_index=True, key="scaling_table", column_config=column_config)
    st.download_button(t("scaling.download", count=len(rows)),
                       pd.DataFrame(rows).to_csv(index=False),
                       "lepton-scaling.csv", "text/csv", icon=":material/download:",
                       key="scaling_download")


def assumptions_ui() -> None:
    st.markdown(t("scaling.assumptions"))


st.title(t("scaling.title"))
st.caption(t("scaling.caption"))
defaults = calibration_ui()
inputs = inputs_ui(defaults)
if inputs is None:
    st.stop()
currency = cost_settings().currency
rows = scaling.sweep(inputs, NODE_RANGE)
verdict = scaling.break_even(inputs, NODE_RANGE)
verdict_ui(rows, verdict, currency)
st.plotly_chart(scaling_chart(rows, verdict, currency, language=language()), key="scaling_chart")
st.subheader(t("scaling.key_node_counts"))
table_ui(rows, verdict, currency)
st.subheader(t("scaling.formulas"))
formulas_ui(inputs, rows)
st.subheader(t("scaling.assumptions_heading"))
assumptions_ui()
