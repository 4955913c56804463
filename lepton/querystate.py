"""Settings in a URL query string: typed fields, validated, falling back to defaults."""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any


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
        raise ValueError(f"expected one of {', '.join(map(str, self.options))}")


@dataclass(frozen=True)
class Number:
    low: float
    high: float
    default: Any
    integer: bool = False

    def parse(self, text: str):
        value = _as_float(text)
        if value is None:
            raise ValueError("expected a number")
        if self.integer:
            if value != int(value):
                raise ValueError("expected a whole number")
            value = int(value)
        if not self.low <= value <= self.high:
            raise ValueError(f"expected {self.low:g}..{self.high:g}")
        return value


def _as_float(text: str) -> float | None:
    try:
        value = float(text)
    except (TypeError, ValueError):
        return None
    return value if math.isfinite(value) else None


def parse_query(query: dict, fields: dict) -> tuple[dict, list[str]]:
    """Values for every field (from the query when valid, else the default) and the problems.

    Args:
        query: query-string parameters (name → text).
        fields: name → `Choice` or `Number`.
    Returns:
        (values, notices): one value per field, and one message per rejected parameter.
    """
    values, notices = {}, []
    for name, field in fields.items():
        values[name] = field.default
        if name not in query:
            continue
        try:
            values[name] = field.parse(str(query[name]))
        except ValueError as error:
            notices.append(
                f"Ignored {name}={str(query[name])[:40]!r} in the link ({error}); "
                f"using {field.default}."
            )
    unknown = sorted(set(query) - set(fields))
    if unknown:
        notices.append(f"Ignored unknown link parameters: {', '.join(unknown)[:200]}.")
    return values, notices


def to_query(values: dict, fields: dict) -> dict:
    """The query-string form of `values`, leaving out fields at their default (short links)."""
    return {name: str(value) for name, value in values.items()
            if name in fields and value != fields[name].default}
