"""Settings in a URL query string: typed fields, validated, falling back to defaults."""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any

from lepton.i18n import Message, message


@dataclass(frozen=True)
class Choice:
    options: tuple
    default: Any

    def parse(self, text: str):
        for option in self.options:
            if str(option) == text:
                return option
            if isinstance(option, float) and _as_float(text) == option:
                return option  # 0.001 and 1e-3 name the same learning rate
        raise ValueError(message("link.expected_one_of",
                                 options=", ".join(map(str, self.options))))


@dataclass(frozen=True)
class Number:
    low: float
    high: float
    default: Any
    integer: bool = False

    def parse(self, text: str):
        value = _as_float(text)
        if value is None:
            raise ValueError(message("link.expected_number"))
        if self.integer:
            if value != int(value):
                raise ValueError(message("link.expected_whole"))
            value = int(value)
        if not self.low <= value <= self.high:
            raise ValueError(message("link.expected_range", low=f"{self.low:g}",
                                     high=f"{self.high:g}"))
        return value


def _as_float(text: str) -> float | None:
    try:
        value = float(text)
    except (TypeError, ValueError):
        return None
    return value if math.isfinite(value) else None


def parse_query(query: dict, fields: dict) -> tuple[dict, list[Message]]:
    """Values for every field (from the query when valid, else the default) and the problems.

    Args:
        query: query-string parameters (name → text).
        fields: name → `Choice` or `Number`.
    Returns:
        (values, notices): one value per field, and one `Message` per rejected parameter.
    """
    values, notices = {}, []
    for name, field in fields.items():
        values[name] = field.default
        if name not in query:
            continue
        try:
            values[name] = field.parse(str(query[name]))
        except ValueError as error:
            notices.append(message("link.ignored", name=name, value=repr(str(query[name])[:40]),
                                   reason=error.args[0], default=str(field.default)))
    unknown = sorted(set(query) - set(fields))
    if unknown:
        notices.append(message("link.unknown", names=", ".join(unknown)[:200]))
    return values, notices


def to_query(values: dict, fields: dict) -> dict:
    """The query-string form of `values`, leaving out fields at their default (short links)."""
    return {name: str(value) for name, value in values.items()
            if name in fields and value != fields[name].default}
