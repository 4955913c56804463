"""The article's worked example (a 3×3 convolution, then 2×2 pooling) and its errata, each
recomputed with `lepton.ops` and explained in the chosen language.
"""

from __future__ import annotations

import numpy as np

from lepton.i18n import DEFAULT_LANGUAGE, translate
from lepton.ops import (
    conv2d,
    format_number,
    max_pool,
    output_size,
    padding_amounts,
    pool_with_pads,
    relu,
    shape_text,
    softmax,
)

ARTICLE_EXAMPLE = {
    "input": ((1, 2, 3), (4, 5, 6), (7, 8, 9)),
    "kernel": ((0, 1, 0), (1, 0, 1), (0, 1, 0)),
    "bias": 0,
    "pool_size": 2,
    "pool_stride": 2,
    "article_printed_conv": ((4, 6, 9), (7, 10, 13), (4, 6, 9)),
    "article_printed_pool": ((7, 13), (4, 9)),
}


# --- the article's worked example -----------------------------------------------------------


def article_errata(language: str = DEFAULT_LANGUAGE) -> list[dict]:
    """What the article's worked example got wrong, each entry as {claim, correct, why}.

    Every correct value is computed with the functions above, not typed in; `language` ("en",
    "zh") is that of the sentences around the numbers (catalogue section "ops").
    """
    return [_convolution_erratum(language), _pooling_erratum(language),
            _relu_name_erratum(language)]


def _example_arrays():
    example = ARTICLE_EXAMPLE
    return (
        np.array(example["input"], dtype=float),
        np.array(example["kernel"], dtype=float),
        np.array(example["article_printed_conv"], dtype=float),
        np.array(example["article_printed_pool"], dtype=float),
    )


def _matrix_text(array) -> str:
    array = np.asarray(array)
    if array.ndim == 0:
        return format_number(array)
    return "[" + ", ".join(_matrix_text(item) for item in array) + "]"


def _convolution_erratum(language: str = DEFAULT_LANGUAGE) -> dict:
    def text(name: str, /, **values) -> str:
        return translate(f"ops.{name}", language, **values)

    image, kernel, printed_conv, _ = _example_arrays()
    bias = ARTICLE_EXAMPLE["bias"]
    valid = conv2d(image, kernel, padding="valid", bias=bias)
    same = conv2d(image, kernel, padding="same", bias=bias)
    # Other ways to fill the border, to check whether the printed map follows one of them.
    same_pads = padding_amounts(image.shape, kernel.shape, (1, 1), "same")
    candidates = {text("padding_zero"): same.output}
    for mode in ("edge", "reflect", "wrap"):
        padded = np.pad(image, same_pads, mode=mode)
        candidates[mode] = conv2d(padded, kernel, bias=bias).output
    matching = [name for name, output in candidates.items() if np.array_equal(output, printed_conv)]
    centre = tuple(size // 2 for size in printed_conv.shape)
    verdict = (
        text("conv_verdict_matches", names=text("and").join(matching))
        if matching
        else text("conv_verdict_none")
    )
    count = valid.output.size
    alternatives = text("list_separator").join(
        text("alternative", name=name, matrix=_matrix_text(output))
        for name, output in candidates.items()
    )
    return {
        "claim": text("conv_claim", kernel=_matrix_text(kernel), image=_matrix_text(image),
                      printed=_matrix_text(printed_conv)),
        "correct": text("conv_correct", valid=_matrix_text(valid.output),
                        first_step=valid.steps[0].text, same=_matrix_text(same.output)),
        "why": text(
            "conv_why",
            kernel_size=shape_text(kernel.shape),
            input_size=shape_text(image.shape),
            positions=text("positions_one" if count == 1 else "positions_many", count=count),
            valid_shape=shape_text(valid.output.shape),
            printed_shape=shape_text(printed_conv.shape),
            centre=format_number(same.output[centre]),
            printed_centre=format_number(printed_conv[centre]),
            alternatives=alternatives,
            verdict=verdict,
        ),
    }


def _pooling_erratum(language: str = DEFAULT_LANGUAGE) -> dict:
    def text(name: str, /, **values) -> str:
        return translate(f"ops.{name}", language, **values)

    image, kernel, printed_conv, printed_pool = _example_arrays()
    pool_size, stride = ARTICLE_EXAMPLE["pool_size"], ARTICLE_EXAMPLE["pool_stride"]
    same_map = conv2d(image, kernel, padding="same").output
    valid_map = conv2d(image, kernel, padding="valid").output
    size = same_map.shape[0]

    def pooled(feature_map, padding, pool_stride=stride):
        return _matrix_text(max_pool(feature_map, pool_size, pool_stride, padding).output)

    keras_pads = padding_amounts(printed_conv.shape, (pool_size,) * 2, (stride,) * 2, "same")
    layouts = _matching_pool_layouts(printed_conv, printed_pool, pool_size, stride)
    if layouts:
        reproduced = text("pool_reproduced", layouts=text("or").join(
            _pads_text(pads, language) for pads in layouts))
    else:
        reproduced = text("pool_not_reproduced")
    inside_maxima = max_pool(printed_conv, pool_size, 1, "valid").output
    too_small = printed_pool[printed_pool < inside_maxima.min()]
    return {
        "claim": text("pool_claim", pool=pool_size, printed_conv=_matrix_text(printed_conv),
                      printed_pool=_matrix_text(printed_pool)),
        "correct": text(
            "pool_correct",
            same_map=_matrix_text(same_map),
            pool=pool_size,
            stride=stride,
            same_valid=pooled(same_map, "valid"),
            same_same=pooled(same_map, "same"),
            valid_map=_matrix_text(valid_map),
            valid_same=pooled(valid_map, "same"),
        ),
        "why": text(
            "pool_why",
            stride=stride,
            size=size,
            pool=pool_size,
            valid_out=output_size(size, pool_size, stride, "valid"),
            same_out=output_size(size, pool_size, stride, "same"),
            keras_pads=_pads_text(keras_pads, language),
            printed_valid=pooled(printed_conv, "valid"),
            printed_same=pooled(printed_conv, "same"),
            printed_pool=_matrix_text(printed_pool),
            minimum=format_number(inside_maxima.min()),
            too_small=_and_list([format_number(v) for v in too_small], language),
            reproduced=reproduced,
        ),
    }


def _matching_pool_layouts(feature_map, target, pool_size: int, stride: int) -> list:
    """Every split of the padding between the two sides that makes max pooling give `target`."""
    totals = [
        (out - 1) * stride + pool_size - size
        for out, size in zip(target.shape, feature_map.shape, strict=True)
    ]
    if min(totals) < 0:
        return []
    layouts = []
    for top in range(totals[0] + 1):
        for left in range(totals[1] + 1):
            pads = ((top, totals[0] - top), (left, totals[1] - left))
            result = pool_with_pads(feature_map, (pool_size,) * 2, (stride,) * 2, pads, "max")
            if np.array_equal(result.output, target):
                layouts.append(pads)
    return layouts


def _and_list(words: list[str], language: str = DEFAULT_LANGUAGE, conjunction: str = "and") -> str:
    """'a', 'a and b', 'a, b and c' (in Chinese 'a、b 和 c'); `conjunction` names the last
    joiner in the "ops" catalogue."""
    if len(words) == 1:
        return words[0]
    comma, conjunction = (translate(f"ops.{name}", language)
                          for name in ("list_comma", conjunction))
    return f"{comma.join(words[:-1])}{conjunction}{words[-1]}"


def _pads_text(pads, language: str = DEFAULT_LANGUAGE) -> str:
    """E.g. '1 padded row at the bottom and 1 padded column on the left'."""
    (top, bottom), (left, right) = pads
    sides = (
        (top, "row", "top"),
        (bottom, "row", "bottom"),
        (left, "column", "left"),
        (right, "column", "right"),
    )
    parts = [
        translate(f"ops.padded_{noun}_{'many' if count > 1 else 'one'}", language, count=count,
                  where=translate(f"ops.side_{where}", language))
        for count, noun, where in sides
        if count
    ]
    # Chinese joins these clauses with 、 rather than 和.
    return (_and_list(parts, language, conjunction="pads_and") if parts
            else translate("ops.no_padding", language))


def _relu_name_erratum(language: str = DEFAULT_LANGUAGE) -> dict:
    sample = np.array([-2.0, 0.0, 3.0])
    return {
        "claim": translate("ops.relu_claim", language),
        "correct": translate("ops.relu_correct", language),
        "why": translate("ops.relu_why", language, sample=_matrix_text(sample),
                         relu=_matrix_text(relu(sample)), softmax=_matrix_text(softmax(sample))),
    }
