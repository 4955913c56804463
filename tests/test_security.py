"""Security settings and rules, checked on the configuration and the source itself.

The live server's guards (loopback binding, XSRF on uploads, the upload size limit, foreign
websocket origins) are checked against a real server in tests/test_faults.py.
"""

from __future__ import annotations

import json
import re
import tomllib
import zipfile
from pathlib import Path

import pytest

from lepton.inference import load_model

PROJECT = Path(__file__).resolve().parent.parent
CONFIG = tomllib.loads((PROJECT / ".streamlit" / "config.toml").read_text())
SOURCES = sorted([PROJECT / "app.py", *(PROJECT / "lepton").rglob("*.py"),
                  *(PROJECT / "pages").glob("*.py")])
STREAMLIT_DEFAULT_UPLOAD_MB = 200


# --- Server configuration -------------------------------------------------------------------


def test_the_server_binds_to_loopback_by_default():
    assert CONFIG["server"]["address"] == "127.0.0.1"
    makefile = (PROJECT / "Makefile").read_text()
    assert re.search(r"^ADDRESS \?= 127\.0\.0\.1$", makefile, re.MULTILINE)


def test_uploads_are_limited_in_size():
    limit = CONFIG["server"]["maxUploadSize"]
    assert isinstance(limit, int) and 1 <= limit < STREAMLIT_DEFAULT_UPLOAD_MB


def test_xsrf_and_cors_protection_are_not_disabled():
    assert CONFIG["server"].get("enableXsrfProtection", True) is True
    assert CONFIG["server"].get("enableCORS", True) is True  # Streamlit needs it for XSRF


def test_usage_statistics_are_not_sent():
    assert CONFIG["browser"]["gatherUsageStats"] is False


# --- The source -----------------------------------------------------------------------------

FORBIDDEN = {
    "pickle import": re.compile(r"^\s*(import|from)\s+(c?[Pp]ickle|dill|joblib|shelve|marshal)"
                                r"\b"),
    "pickle call": re.compile(r"\b(c?[Pp]ickle|dill|joblib|marshal)\.(loads?|Unpickler)\b"),
    "allow_pickle=True": re.compile(r"allow_pickle\s*=\s*True"),
    "safe_mode=False": re.compile(r"safe_mode\s*=\s*False"),
    "unsafe deserialization": re.compile(r"enable_unsafe_deserialization"),
    "unsafe_allow_html=True": re.compile(r"unsafe_allow_html\s*=\s*True"),
    "raw HTML element": re.compile(r"\bst\.html\(|components\.v1\.html|components\.html\("),
    "eval or exec": re.compile(r"(?<![.\w])(eval|exec)\("),
    "yaml.load": re.compile(r"\byaml\.load\("),
}


OFFENDING_EXAMPLES = {
    "pickle import": "import pickle", "pickle call": "data = pickle.loads(blob)",
    "allow_pickle=True": "np.load(path, allow_pickle=True)",
    "safe_mode=False": "keras.saving.load_model(path, safe_mode=False)",
    "unsafe deserialization": "keras.config.enable_unsafe_deserialization()",
    "unsafe_allow_html=True": 'st.markdown(name, unsafe_allow_html=True)',
    "raw HTML element": "st.html(name)", "eval or exec": "value = eval(text)",
    "yaml.load": "yaml.load(stream)",
}


@pytest.mark.parametrize("rule", FORBIDDEN)
def test_each_rule_catches_what_it_forbids(rule):
    assert FORBIDDEN[rule].search(OFFENDING_EXAMPLES[rule])


def _code_lines():
    for path in SOURCES:
        for number, line in enumerate(path.read_text().splitlines(), 1):
            code = line.split("#", 1)[0]
            if code.strip() and not code.strip().startswith(('"', "'")):
                yield f"{path.relative_to(PROJECT)}:{number}", code


def test_the_sources_are_all_scanned():
    assert {path.name for path in SOURCES} >= {"app.py", "inference.py", "decoding.py",
                                                "predict.py", "train.py", "data.py"}


@pytest.mark.parametrize("rule", FORBIDDEN)
def test_no_unsafe_construct_in_the_source(rule):
    offenders = [place for place, code in _code_lines() if FORBIDDEN[rule].search(code)]
    assert offenders == []


def test_every_numpy_load_refuses_pickles():
    calls = [(place, code) for place, code in _code_lines() if re.search(r"\bnp\.load\(", code)]
    assert calls, "expected the dataset loaders' np.load calls"
    assert [place for place, code in calls if "allow_pickle=False" not in code] == []


def test_every_keras_model_load_uses_safe_mode():
    calls = [(place, code) for place, code in _code_lines()
             if re.search(r"keras\.(saving|models)\.load_model\(", code)]
    assert calls and [place for place, code in calls if "safe_mode=True" not in code] == []


# --- Model files ----------------------------------------------------------------------------


def _model_with_a_lambda(path: Path) -> Path:
    import keras

    inputs = keras.Input((28, 28, 1))
    doubled = keras.layers.Lambda(lambda images: images * 2.0)(inputs)
    outputs = keras.layers.Dense(10, activation="softmax")(keras.layers.Flatten()(doubled))
    keras.Model(inputs, outputs).save(path)
    return path


def test_a_model_with_a_lambda_layer_is_refused(tmp_path):
    path = _model_with_a_lambda(tmp_path / "lambda.keras")
    with pytest.raises(ValueError, match=r"Requested the deserialization of a `Lambda` layer "
                                         r"whose `function` is a Python lambda\. This carries "
                                         r"a potential risk of arbitrary code execution"):
        load_model(path)


def test_a_model_naming_an_arbitrary_python_callable_is_refused(tmp_path):
    """A tampered config.json asking Keras to build `subprocess.Popen(["touch", marker])`."""
    marker = tmp_path / "code_ran"
    source = _model_with_a_lambda(tmp_path / "lambda.keras")
    tampered = tmp_path / "tampered.keras"
    with zipfile.ZipFile(source) as original, zipfile.ZipFile(tampered, "w") as copy:
        for item in original.infolist():
            content = original.read(item.filename)
            if item.filename == "config.json":
                config = json.loads(content)
                layer = next(layer for layer in config["config"]["layers"]
                             if layer["class_name"] == "Lambda")
                layer.update(module="subprocess", class_name="Popen", registered_name=None,
                             config={"args": ["touch", str(marker)]})
                content = json.dumps(config).encode()
            copy.writestr(item, content)
    with pytest.raises((TypeError, ValueError)) as error:
        load_model(tampered)
    assert "Popen" in str(error.value)
    assert not marker.exists()


@pytest.mark.parametrize("content", [b"", b"hello, this is not a zip archive",
                                     b"PK\x03\x04 truncated zip"])
def test_a_model_file_that_is_not_a_zip_is_a_clear_error(tmp_path, content):
    path = tmp_path / "model.keras"
    path.write_bytes(content)
    with pytest.raises(ValueError) as error:
        load_model(path)
    # Checked before Keras, whose own wording (3.15.1) starts "File not found" for such a file.
    assert str(path) in str(error.value) and "zip archive" in str(error.value)


def test_a_missing_model_file_is_a_clear_error(tmp_path):
    with pytest.raises(ValueError, match="No model file at .*; it may have been deleted with "
                                         "its run."):
        load_model(tmp_path / "gone.keras")
