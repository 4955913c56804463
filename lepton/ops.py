"""NumPy reference implementations of the CNN's formulas, each with a step-by-step trace.

Every windowed op returns a `Result`: the output array, the (padded) input the windows slide
over, and one `Step` per output value with the arithmetic written out, so a page can show how
each number was computed. The results match Keras (TensorFlow backend); `tests/test_ops.py`
checks that.
"""

from __future__ import annotations

import math
import numbers
from dataclasses import dataclass

import numpy as np

PADDINGS = ("valid", "same")



@dataclass(frozen=True)
class Step:
    """How one output value was computed.

    `window` indexes the Result's `padded` array (`padded[step.window]`). `terms` holds the
    (input, weight) pairs for conv and dense, or the real (non-padding) window values for pools.
    """

    row: int
    col: int
    window: tuple[slice, slice]
    terms: tuple
    value: float
    text: str


@dataclass(frozen=True, eq=False)  # eq=False: arrays have no single truth value to compare
class Result:
    """Output of an op, the input it actually slid over, and one step per output value."""

    output: np.ndarray
    steps: tuple[Step, ...]
    padded: np.ndarray


# --- the shape rule -------------------------------------------------------------------------


def output_size(input_size: int, window: int, stride: int, padding: str) -> int:
    """Output length along one axis of a windowed op (conv or pool), as Keras computes it.

    'valid' keeps only windows fully inside the input: (input_size - window) // stride + 1.
    'same' pads so that every stride-th position gets a window: ceil(input_size / stride).

    Raises:
        ValueError: if a size is not a whole number ≥ 1, the padding is unknown, or the window
            is larger than the input with 'valid' padding.
    """
    for name, value in (("input_size", input_size), ("window", window), ("stride", stride)):
        _check_positive_int(value, name)
    padding = _check_padding(padding)
    if padding == "same":
        return math.ceil(input_size / stride)
    if window > input_size:
        raise ValueError(
            f"Expected a window no larger than the input ({input_size}) with padding='valid', "
            f"got {window}. Use padding='same' or a smaller window."
        )
    return (input_size - window) // stride + 1


def _padding_amounts(input_size: int, window: int, stride: int, padding: str) -> tuple[int, int]:
    """Cells added before and after one axis. TF puts the odd extra cell after (bottom/right)."""
    if padding == "valid":
        return 0, 0
    out = output_size(input_size, window, stride, padding)
    total = max((out - 1) * stride + window - input_size, 0)
    return total // 2, total - total // 2


# --- convolution ----------------------------------------------------------------------------


def conv2d(
    inputs, kernel, stride=1, padding: str = "valid", bias=0.0, flip_kernel: bool = False
) -> Result:
    """Slides `kernel` over `inputs` and sums the products at each position, like Keras' Conv2D.

    Keras computes cross-correlation: the kernel is applied as stored. `flip_kernel=True` rotates
    it by 180° first, which gives the convolution of signal processing (scipy.signal.convolve2d).

    Args:
        inputs: 2-D array (height × width), one channel.
        kernel: 2-D array (kernel height × kernel width); need not be square.
        stride: step between windows, an int ≥ 1 or a (rows, cols) pair.
        padding: 'valid' (no padding) or 'same' (zeros around the border, TF's rule).
        bias: number added to every output value.
        flip_kernel: rotate the kernel by 180° (true convolution).

    Returns:
        A `Result`; `padded` is the zero-padded input and each step's terms are
        (input value, kernel value) pairs.

    Raises:
        ValueError: with a hint on how to fix the arguments.
    """
    inputs = _as_array(inputs, "inputs", ndim=2)
    kernel = _as_array(kernel, "kernel", ndim=2)
    strides = _as_pair(stride, "stride")
    padding = _check_padding(padding)
    bias = _as_number(bias, "bias")
    if flip_kernel:
        kernel = kernel[::-1, ::-1]
    _check_window_fits(inputs.shape, kernel.shape, padding, "kernel", "a smaller kernel")

    pads = padding_amounts(inputs.shape, kernel.shape, strides, padding)
    padded = np.pad(inputs, pads)
    windows = _windows(padded, kernel.shape, strides)
    output = np.einsum("ijkl,kl->ij", windows, kernel) + bias
    steps = tuple(
        _product_step(
            row, col, window, padded[window].ravel(), kernel.ravel(), bias, output[row, col]
        )
        for row, col, window in _window_positions(output.shape, kernel.shape, strides)
    )
    return Result(output=output, steps=steps, padded=padded)


# --- pooling --------------------------------------------------------------------------------


def max_pool(inputs, pool_size=2, stride=None, padding: str = "valid") -> Result:
    """Largest value in each window, like Keras' MaxPooling2D.

    Args:
        inputs: 2-D array (height × width).
        pool_size: window side, an int ≥ 1 or a (rows, cols) pair.
        stride: step between windows; None means pool_size (the Keras default).
        padding: 'valid' or 'same'. With 'same', padded cells are ignored, as in Keras.

    Returns:
        A `Result`; `padded` holds NaN in the padded cells (they take no part) and each step's
        terms are the real values in its window.

    Raises:
        ValueError: with a hint on how to fix the arguments.
    """
    return _pool(inputs, pool_size, stride, padding, "max")


def average_pool(inputs, pool_size=2, stride=None, padding: str = "valid") -> Result:
    """Mean of each window, like Keras' AveragePooling2D.

    With 'same' padding the mean is over the real cells only (padded cells are not counted),
    which is what Keras does. Arguments and result as in `max_pool`.
    """
    return _pool(inputs, pool_size, stride, padding, "average")


def _pool(inputs, pool_size, stride, padding: str, kind: str) -> Result:
    inputs = _as_array(inputs, "inputs", ndim=2)
    pool_shape = _as_pair(pool_size, "pool_size")
    strides = pool_shape if stride is None else _as_pair(stride, "stride")
    padding = _check_padding(padding)
    _check_window_fits(inputs.shape, pool_shape, padding, "pool window", "a smaller pool_size")
    pads = padding_amounts(inputs.shape, pool_shape, strides, padding)
    return pool_with_pads(inputs, pool_shape, strides, pads, kind)


def pool_with_pads(inputs, pool_shape, strides, pads, kind: str) -> Result:
    """Pools with explicit padding; NaN marks padded cells so nanmax/nanmean skip them."""
    padded = np.pad(inputs, pads, constant_values=np.nan)
    windows = _windows(padded, pool_shape, strides)
    reduce = np.nanmax if kind == "max" else np.nanmean
    output = reduce(windows, axis=(2, 3))
    steps = []
    for row, col, window in _window_positions(output.shape, pool_shape, strides):
        values = padded[window].ravel()
        real_values = tuple(float(value) for value in values[~np.isnan(values)])
        value = float(output[row, col])
        steps.append(
            Step(row, col, window, real_values, value, _pool_text(kind, real_values, value))
        )
    return Result(output=output, steps=tuple(steps), padded=padded)


def _pool_text(kind: str, values: tuple[float, ...], value: float) -> str:
    if kind == "max":
        return f"max({', '.join(format_number(v) for v in values)}) = {format_number(value)}"
    total = _signed_sum([format_number(v) for v in values])
    return f"({total}) / {len(values)} = {format_number(value)}"


# --- dense ----------------------------------------------------------------------------------


def dense(inputs, weights, bias) -> Result:
    """`inputs @ weights + bias`, like Keras' Dense without an activation.

    Args:
        inputs: 1-D array of n values.
        weights: (n, m) array, one column per output unit (Keras' kernel layout).
        bias: m values, one per unit.

    Returns:
        A `Result` with one step per unit (row 0, col = unit); `padded` is the inputs as one row,
        each step's window covers all of it and its terms are (input, weight) pairs.

    Raises:
        ValueError: if the shapes do not fit together, with the shape that would.
    """
    inputs = _as_array(inputs, "inputs", ndim=1, hint="Flatten them first, e.g. inputs.ravel().")
    weights = _as_array(weights, "weights", ndim=2, hint="Use shape (inputs, units).")
    bias = _as_array(bias, "bias", ndim=1, hint="Give one value per unit.")
    input_count, unit_count = weights.shape
    if input_count != inputs.size:
        hint = " Transpose the weights." if unit_count == inputs.size else ""
        raise ValueError(
            f"Expected weights with {inputs.size} rows (one per input), got shape "
            f"{weights.shape}.{hint} Dense weights have shape (inputs, units)."
        )
    if bias.size != unit_count:
        raise ValueError(
            f"Expected a bias with {unit_count} values (one per unit), got {bias.size}."
        )
    output = inputs @ weights + bias
    padded = inputs[np.newaxis, :]
    window = (slice(0, 1), slice(0, inputs.size))
    steps = tuple(
        _product_step(0, unit, window, inputs, weights[:, unit], bias[unit], output[unit])
        for unit in range(unit_count)
    )
    return Result(output=output, steps=steps, padded=padded)


# --- activations ----------------------------------------------------------------------------


def relu(x) -> np.ndarray:
    """max(0, x), element-wise."""
    return np.maximum(_as_array(x, "x"), 0.0)


def sigmoid(x) -> np.ndarray:
    """1 / (1 + e^-x), element-wise."""
    x = _as_array(x, "x")
    # e^-|x| never overflows; both branches are the same function rearranged.
    exp_negative_abs = np.exp(-np.abs(x))
    return np.where(
        x >= 0, 1.0 / (1.0 + exp_negative_abs), exp_negative_abs / (1.0 + exp_negative_abs)
    )


def tanh(x) -> np.ndarray:
    """Hyperbolic tangent, element-wise."""
    return np.tanh(_as_array(x, "x"))


def softmax(x) -> np.ndarray:
    """e^x / sum(e^x) over the last axis: positive values that add up to 1."""
    x = _as_array(x, "x")
    if x.ndim == 0:
        raise ValueError(
            "Expected at least one axis for softmax (it normalises over the last axis), got a "
            "single number. Pass a vector, e.g. softmax([x])."
        )
    # Subtracting the max leaves the result unchanged and keeps e^x from overflowing.
    exponentials = np.exp(x - x.max(axis=-1, keepdims=True))
    return exponentials / exponentials.sum(axis=-1, keepdims=True)


# --- step traces ----------------------------------------------------------------------------


def format_number(value) -> str:
    """Compact number for step texts: 3 not 3.0, 0.333 not 0.3333333, 1.2e-05 for tiny values."""
    value = float(value)
    if value.is_integer():
        return str(int(value))
    text = f"{value:.3f}".rstrip("0").rstrip(".")
    if text in ("0", "-0"):  # not zero, just too small for 3 decimals
        return f"{value:.3g}"
    return text


def _signed_sum(parts: list[str]) -> str:
    """Joins terms with + and -, writing 'a - b' rather than 'a + -b'."""
    text = parts[0]
    for part in parts[1:]:
        text += f" - {part[1:]}" if part.startswith("-") else f" + {part}"
    return text


def _product_step(row, col, window, values, weights, bias, value) -> Step:
    """Step for a weighted sum: values·weights + bias, written out term by term."""
    terms = tuple((float(a), float(b)) for a, b in zip(values, weights, strict=True))
    value = float(value)
    products = [f"{format_number(a)}×{_factor(b)}" for a, b in terms]
    text = f"{_signed_sum([*products, format_number(bias)])} = {format_number(value)}"
    return Step(row, col, window, terms, value, text)


def _factor(value: float) -> str:
    """A second factor, parenthesised when negative: 2×(-1)."""
    text = format_number(value)
    return f"({text})" if text.startswith("-") else text


def _window_positions(output_shape, window_shape, strides):
    """Yields (row, col, window) for each output cell; the window indexes the padded input."""
    for row in range(output_shape[0]):
        for col in range(output_shape[1]):
            top, left = row * strides[0], col * strides[1]
            window = (slice(top, top + window_shape[0]), slice(left, left + window_shape[1]))
            yield row, col, window


def _windows(padded: np.ndarray, window_shape, strides) -> np.ndarray:
    """All windows as an (out rows, out cols, window rows, window cols) view."""
    view = np.lib.stride_tricks.sliding_window_view(padded, window_shape)
    return view[:: strides[0], :: strides[1]]


def padding_amounts(input_shape, window_shape, strides, padding) -> tuple[tuple[int, int], ...]:
    """(before, after) cells of each axis, by TensorFlow's rule (`_padding_amounts`)."""
    return tuple(
        _padding_amounts(size, window, stride, padding)
        for size, window, stride in zip(input_shape, window_shape, strides, strict=True)
    )


# --- validation -----------------------------------------------------------------------------


def _as_array(values, name: str, ndim: int | None = None, hint: str = "") -> np.ndarray:
    """Float array of finite numbers, optionally of a given number of axes."""
    try:
        array = np.asarray(values, dtype=float)
    except (TypeError, ValueError) as error:
        raise ValueError(
            f"Expected numbers in {name}, got {type(values).__name__} ({error}). "
            "Pass a list of numbers or a NumPy array."
        ) from error
    if ndim is not None and array.ndim != ndim:
        expected = {1: "1-D (n,)", 2: "2-D (height × width)"}[ndim]
        hint = hint or (
            "Pass one channel as a 2-D array, e.g. image[..., 0] for an (H, W, 1) image."
        )
        raise ValueError(f"Expected {expected} {name}, got shape {array.shape}. {hint}")
    if array.size == 0:
        raise ValueError(f"Expected at least one value in {name}, got shape {array.shape}.")
    non_finite = np.argwhere(~np.isfinite(array))
    if non_finite.size:
        position = tuple(int(index) for index in non_finite[0])
        raise ValueError(
            f"Expected finite numbers in {name}, found {array[position]} at {position}. "
            "Replace missing or infinite values (e.g. with 0) first."
        )
    return array


def _as_number(value, name: str) -> float:
    array = _as_array(value, name)
    if array.ndim != 0:
        raise ValueError(
            f"Expected a single number for {name} (one filter), got shape {array.shape}."
        )
    return float(array)


def _check_positive_int(value, name: str) -> None:
    if isinstance(value, bool) or not isinstance(value, numbers.Integral) or value < 1:
        hint = " Use stride=1 to visit every position." if name == "stride" else ""
        raise ValueError(f"Expected {name} to be a whole number ≥ 1, got {value!r}.{hint}")


def _as_pair(value, name: str) -> tuple[int, int]:
    """(rows, cols) from an int or a pair of ints, each ≥ 1."""
    pair = tuple(value) if isinstance(value, (tuple, list)) else (value, value)
    if len(pair) != 2:
        raise ValueError(
            f"Expected {name} as one int or a (rows, cols) pair, got {value!r}. "
            f"Use e.g. {name}=2 or {name}=(2, 1)."
        )
    for item in pair:
        _check_positive_int(item, name)
    return int(pair[0]), int(pair[1])


def _check_padding(padding) -> str:
    normalised = padding.lower() if isinstance(padding, str) else padding
    if normalised not in PADDINGS:
        raise ValueError(
            f"Expected padding 'valid' or 'same', got {padding!r}. 'valid' uses no padding; "
            "'same' pads the border so the output keeps ceil(input / stride) cells per side."
        )
    return normalised


def _check_window_fits(input_shape, window_shape, padding: str, noun: str, fix: str) -> None:
    """With 'valid' padding the window must fit inside the input; 'same' always fits."""
    too_large = any(window > size for window, size in zip(window_shape, input_shape, strict=True))
    if padding == "valid" and too_large:
        raise ValueError(
            f"Expected a {noun} no larger than the padded input ({shape_text(input_shape)}), "
            f"got {shape_text(window_shape)}. Use padding='same' or {fix}."
        )


def shape_text(shape) -> str:
    """(26, 26, 32) → "26×26×32": how shapes are written everywhere in Lepton."""
    return "×".join(str(int(size)) for size in shape)
