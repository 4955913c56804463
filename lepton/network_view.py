"""The network as the Architecture and Train pages show it, worked out where Keras is loaded.

The pages send a configuration or a run's model file through the work pool and get plain rows
and a Graphviz diagram back, so the Streamlit server never imports Keras: its import holds the
interpreter for seconds, which every session would wait on, and adds ≈0.8 GB to the server.
"""

from __future__ import annotations

import functools
from pathlib import Path

from lepton.model import ModelConfig


def describe(source: ModelConfig | str, language: str,
             microseconds: tuple[tuple[str, float], ...] = (), version: int = 0) -> dict:
    """The real model's structure: its layer rows, its diagram and its totals.

    Args:
        source: a configuration (an untrained model is built) or a `.keras` file's path.
        language: of the diagram's descriptive words ("en", "zh").
        microseconds: (layer name, one image's time) pairs of a profile, drawn on the nodes.
        version: the file's modification time, so that a rewritten file is read again.

    Returns:
        {"input_shape", "layers" (`lepton.model.layer_table` rows), "dot", "params",
        "macs", "weights_bytes"}.
    """
    from lepton import diagrams
    from lepton.model import layer_table, model_size_bytes

    model = _model(source, version)
    layers = layer_table(model)
    return {
        "input_shape": tuple(int(size) for size in model.input_shape[1:]),
        "layers": layers,
        "dot": diagrams.network_dot(model, language=language,
                                    microseconds=dict(microseconds) or None),
        "params": int(model.count_params()),
        "macs": sum(row["macs"] for row in layers),
        "weights_bytes": model_size_bytes(model),
    }


def file_version(model_path: str) -> int:
    """A model file's modification time in ns (0 when it is missing): part of a cache key."""
    path = Path(model_path)
    return path.stat().st_mtime_ns if path.exists() else 0


@functools.lru_cache(maxsize=8)
def _model(source: ModelConfig | str, version: int):
    if isinstance(source, ModelConfig):
        from lepton.model import build_model

        return build_model(source)
    from lepton.inference import load_model

    return load_model(source)
