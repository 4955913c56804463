"""Message catalogues: every user-facing string of the app, in English and Simplified Chinese.

Catalogues are JSON files under `lepton/locales/<language>/<section>.json`; a key is
"<section>.<name>", e.g. "train.title". Placeholders use `str.format` names: "{count} runs".
"""

from __future__ import annotations

import json
import string
from functools import cache
from pathlib import Path

LOCALES = Path(__file__).resolve().parent / "locales"
LANGUAGES = {"en": "English", "zh": "简体中文"}
DEFAULT_LANGUAGE = "en"


@cache
def catalogue(language: str) -> dict[str, str]:
    """All messages of `language`, keyed "<section>.<name>"."""
    if language not in LANGUAGES:
        raise ValueError(f"Unknown language {language!r}; choose one of {', '.join(LANGUAGES)}.")
    messages = {}
    for path in sorted((LOCALES / language).glob("*.json")):
        for name, text in json.loads(path.read_text(encoding="utf-8")).items():
            messages[f"{path.stem}.{name}"] = text
    return messages


def placeholders(text: str) -> set[str]:
    return {field for _, field, _, _ in string.Formatter().parse(text) if field}


def translate(key: str, language: str = DEFAULT_LANGUAGE, **values) -> str:
    """The message `key` in `language`, filled with `values`.

    A key missing from a catalogue is a bug the tests catch; at run time it falls back to English
    and then to the key itself, so a page never crashes over a missing translation.
    """
    text = catalogue(language).get(key)
    if text is None:
        text = catalogue(DEFAULT_LANGUAGE).get(key, key)
    return text.format(**values) if values else text
