"""Message catalogues: every user-facing string of the app, in English and Simplified Chinese.

Catalogues are JSON files under `lepton/locales/<language>/<section>.json`; a key is
"<section>.<name>", e.g. "train.title". Placeholders use `str.format` names: "{count} runs".
What the library tells a user (progress, steps, provenance) is a `Message`: a key and its values,
rendered by the app in the chosen language and by the CLI in English; nobody parses it.
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


class Message(str):
    """Something to tell the user: English text (it is a `str`: logs, the CLI and JSON read it)
    that also carries its catalogue key and values, so the app can show it in any language.

    A value that is itself a Message is rendered in the same language.
    """

    key: str
    values: dict

    def __new__(cls, key: str, values: dict | None = None):
        values = dict(values or {})
        self = super().__new__(cls, _render(key, DEFAULT_LANGUAGE, values))
        self.key, self.values = key, values
        return self

    def text(self, language: str = DEFAULT_LANGUAGE) -> str:
        return _render(self.key, language, self.values)

    def __reduce__(self):  # rebuilt from its key in another process (worker pools, pickles)
        return Message, (self.key, self.values)

    def to_dict(self) -> dict:
        """{"key", "values"} for a JSON file (a stored run, a manifest, a progress file)."""
        return {"key": self.key, "values": {
            name: value.to_dict() if isinstance(value, Message) else value
            for name, value in self.values.items()}}

    @classmethod
    def from_dict(cls, document: dict) -> Message:
        return cls(document["key"], {
            name: cls.from_dict(value) if isinstance(value, dict) and "key" in value else value
            for name, value in document.get("values", {}).items()})


def recorded(document: dict, name: str) -> str:
    """`document[name]` (English text) as the Message recorded beside it in
    `document[name + "_message"]`, when there is one (files written before that: the text)."""
    saved = document.get(f"{name}_message")
    if isinstance(saved, dict) and "key" in saved:
        return Message.from_dict(saved)
    return document.get(name, "")


def _render(key: str, language: str, values: dict) -> str:
    return translate(key, language, **{
        name: value.text(language) if isinstance(value, Message) else value
        for name, value in values.items()})


def message(key: str, **values) -> Message:
    return Message(key, values)
