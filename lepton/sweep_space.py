"""What a sweep may change: each Train-page field fixed, given choices, or given a range.

Every value a sweep tries is one the Train page offers, so the setup it recommends opens there
as a link and trains again exactly.
"""

from __future__ import annotations

from dataclasses import dataclass

from lepton.querystate import Choice, Number

# The default space: the architecture's widths, the learning rate, the batch and the epochs;
# everything else stays at this host's default recipe.
DEFAULT_SPACE = "filters1=8,16,32 filters2=16,32,64 dense=32,64,128 lr=0.001,0.002,0.003 " \
                "batch=32,64,128 epochs=3..15"
FLOAT_STEP = 0.05  # the Train page's slider step for dropout and validation


@dataclass(frozen=True)
class Dimension:
    """One field a sweep varies: `choices`, or a range `low..high` (integers or floats)."""

    name: str
    choices: tuple = ()
    low: float | None = None
    high: float | None = None
    integer: bool = False

    def to_dict(self) -> dict:
        if self.choices:
            return {"name": self.name, "choices": list(self.choices)}
        return {"name": self.name, "low": self.low, "high": self.high, "integer": self.integer}

    @classmethod
    def from_dict(cls, values: dict) -> Dimension:
        return cls(values["name"], tuple(values.get("choices", ())), values.get("low"),
                   values.get("high"), bool(values.get("integer")))

    def text(self) -> str:
        if self.choices:
            return f"{self.name}={','.join(_value_text(value) for value in self.choices)}"
        low, high = (int(self.low), int(self.high)) if self.integer else (self.low, self.high)
        return f"{self.name}={low}..{high}"


@dataclass(frozen=True)
class SearchSpace:
    """The varied dimensions, in the Train page's field order, and every other field fixed."""

    dimensions: tuple[Dimension, ...]
    fixed: dict

    def to_dict(self) -> dict:
        return {"dimensions": [dimension.to_dict() for dimension in self.dimensions],
                "fixed": self.fixed}

    @classmethod
    def from_dict(cls, values: dict) -> SearchSpace:
        return cls(tuple(Dimension.from_dict(item) for item in values["dimensions"]),
                   dict(values["fixed"]))

    def text(self) -> str:
        return " ".join(dimension.text() for dimension in self.dimensions)

    def suggest(self, trial) -> dict:
        """Asks an Optuna trial for a value of every dimension; returns every field's value.

        A block's filter count is asked only when the trial has that block (a conditional
        parameter), so it never shapes the search when unused.
        """
        values = dict(self.fixed)
        for dimension in self.dimensions:
            if dimension.name.startswith("filters") and \
                    int(dimension.name[-1]) > int(values["blocks"]):
                continue
            if dimension.choices:
                values[dimension.name] = trial.suggest_categorical(dimension.name,
                                                                   list(dimension.choices))
            elif dimension.integer:
                values[dimension.name] = trial.suggest_int(dimension.name, int(dimension.low),
                                                           int(dimension.high))
            else:
                value = trial.suggest_float(dimension.name, dimension.low, dimension.high,
                                            step=FLOAT_STEP)
                values[dimension.name] = round(value, 6)  # 0.15, not 0.15000000000000002
        return values

    def grid(self, seed: int | None = None) -> list[dict]:
        """Every setup of a space of choices and integer ranges, in a seeded random order
        (so a grid cut short by its budget still spreads over the space).

        Raises:
            ValueError: a float range is in the space.
        """
        import itertools
        import random

        if self.size() is None:
            raise ValueError("A grid needs choices or integer ranges only; give the float "
                             "ranges (e.g. dropout) as choices.")
        axes = [list(dimension.choices) if dimension.choices
                else list(range(int(dimension.low), int(dimension.high) + 1))
                for dimension in self.dimensions]
        names = [dimension.name for dimension in self.dimensions]
        setups = [dict(zip(names, values)) for values in itertools.product(*axes)]
        random.Random(seed).shuffle(setups)
        return setups

    def size(self) -> int | None:
        """How many different setups the space holds, or None when a float range is in it."""
        total = 1
        for dimension in self.dimensions:
            if dimension.choices:
                total *= len(dimension.choices)
            elif dimension.integer:
                total *= int(dimension.high) - int(dimension.low) + 1
            else:
                return None
        return total


def _value_text(value) -> str:
    return f"{value:g}" if isinstance(value, float) else str(value)


def parse_space(text: str, fields: dict) -> SearchSpace:
    """A space from text such as "filters1=8,16 lr=0.001,0.003 epochs=3..15 dropout=0..0.3".

    `fields` are the Train page's fields (`lepton.train_fields.train_fields`); every field not
    named keeps its default, and a single value fixes a field.

    Raises:
        ValueError: an unknown field, a value the field does not allow, or a bad range.
    """
    fixed = {name: field.default for name, field in fields.items()}
    varied, named = {}, set()
    for token in text.split():
        name, separator, values = token.partition("=")
        if not separator or not values:
            raise ValueError(f"Expected name=values in the search space, got {token!r} "
                             "(e.g. lr=0.001,0.003 or epochs=3..15).")
        if name not in fields:
            raise ValueError(f"Unknown search field {name!r}. Choose from: "
                             f"{', '.join(fields)}.")
        if name in named:
            raise ValueError(f"The search field {name!r} is given twice; give it once.")
        named.add(name)
        field = fields[name]
        if ".." in values:
            varied[name] = _range(name, values, field)
        else:
            choices = tuple(dict.fromkeys(_parse(name, part, field)
                                          for part in values.split(",")))
            if len(choices) == 1:
                fixed[name] = choices[0]
            else:
                varied[name] = Dimension(name, choices)
    dimensions = tuple(varied[name] for name in fields if name in varied)
    fixed = {name: value for name, value in fixed.items() if name not in varied}
    return SearchSpace(dimensions, fixed)


def _parse(name: str, text: str, field):
    try:
        return field.parse(text.strip())
    except ValueError as error:
        raise ValueError(f"{name}={text}: {error.args[0]}") from None


def _range(name: str, text: str, field) -> Dimension:
    if not isinstance(field, Number):
        options = ", ".join(map(str, field.options)) if isinstance(field, Choice) else ""
        raise ValueError(f"{name} takes choices, not a range: give some of {options}.")
    low_text, _, high_text = text.partition("..")
    low, high = _parse(name, low_text, field), _parse(name, high_text, field)
    if not low < high:
        raise ValueError(f"{name}={text}: expected low..high with low < high.")
    return Dimension(name, low=low, high=high, integer=field.integer)


def space_text(selection: dict) -> str:
    """Text for `parse_space` from name → a list of choices or a (low, high) range; a single
    choice or an empty range (low == high) fixes the field."""
    tokens = []
    for name, chosen in selection.items():
        if isinstance(chosen, tuple):
            low, high = chosen
            tokens.append(f"{name}={_value_text(low)}" if low == high
                          else f"{name}={_value_text(low)}..{_value_text(high)}")
        elif chosen:
            tokens.append(f"{name}={','.join(_value_text(value) for value in chosen)}")
    return " ".join(tokens)
