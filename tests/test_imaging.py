"""Tests for lepton.imaging: any picture → MNIST-style 28×28 input."""

from __future__ import annotations

import io
import struct
import zlib

import numpy as np
import pytest
from PIL import Image, ImageDraw, ImageFile
from scipy import ndimage

from lepton.imaging import (
    MAX_PIXELS,
    ImageError,
    Preprocessed,
    _median,
    load_image,
    preprocess_image,
    with_colour_original,
)
from lepton.imaging.pipelines import MIN_INK_SIDE
from tests.digit_images import drawn_digit_rgba, encode, mnist_digit, realistic_upload

WHITE = (255, 255, 255)
BLACK = (0, 0, 0)


def seven(size=(200, 200), *, ink=BLACK, paper=WHITE, box=(50, 40, 150, 160), width=14):
    """A '7' drawn with lines inside `box` (left, top, right, bottom) on an RGB picture."""
    picture = Image.new("RGB", size, paper)
    left, top, right, bottom = box
    draw = ImageDraw.Draw(picture)
    corner = (left + (right - left) // 3, bottom)
    draw.line([(left, top), (right, top), corner], fill=ink, width=width)
    return picture


def ink_of(result: Preprocessed) -> np.ndarray:
    return result.input[..., 0]


def best_shifted_correlation(image: np.ndarray, reference: np.ndarray) -> float:
    """Pearson correlation, best over ±1 px shifts: MNIST itself centres to the nearest pixel."""
    return max(
        np.corrcoef(np.roll(image, (dy, dx), axis=(0, 1)).ravel(), reference.ravel())[0, 1]
        for dy in (-1, 0, 1)
        for dx in (-1, 0, 1)
    )


def ink_extent(image: np.ndarray, threshold: float = 0.3) -> tuple[int, int]:
    """(rows, columns) spanned by pixels above `threshold`."""
    rows = np.flatnonzero((image > threshold).any(axis=1))
    columns = np.flatnonzero((image > threshold).any(axis=0))
    return rows[-1] - rows[0] + 1, columns[-1] - columns[0] + 1


def assert_mnist_like(result: Preprocessed) -> None:
    image = result.input
    assert image.shape == (28, 28, 1)
    assert image.dtype == np.float32
    assert image.min() >= 0.0 and image.max() == pytest.approx(1.0)
    row, column = ndimage.center_of_mass(image[..., 0])
    assert abs(row - 14) <= 0.75 and abs(column - 14) <= 0.75, (row, column)
    rows, columns = ink_extent(image[..., 0], threshold=0.0)
    assert max(rows, columns) <= 22  # 20×20 box plus at most a pixel of filter spill each side


# --- Polarity and alpha -------------------------------------------------------------------


def test_dark_ink_on_light_paper_is_inverted():
    result = preprocess_image(encode(seven(), "PNG"))
    assert result.inverted
    assert_mnist_like(result)
    assert ink_of(result)[0, 0] == 0.0  # background black, like MNIST


def test_light_ink_on_dark_background_is_kept():
    result = preprocess_image(encode(seven(ink=WHITE, paper=BLACK), "PNG"))
    assert not result.inverted
    assert_mnist_like(result)
    reference = preprocess_image(encode(seven(), "PNG"))
    np.testing.assert_allclose(ink_of(result), ink_of(reference), atol=1e-3)


def test_light_ink_on_mid_grey_is_not_inverted():
    # Regression guard: deciding polarity by "background brighter than 128" would invert this.
    result = preprocess_image(encode(seven(ink=(250, 250, 250), paper=(150, 150, 150)), "PNG"))
    assert not result.inverted
    assert_mnist_like(result)


@pytest.mark.parametrize("stroke_rgb", [WHITE, BLACK, (200, 30, 30)])
def test_strokes_on_transparency_use_alpha_as_ink(stroke_rgb):
    canvas = drawn_digit_rgba("7")
    canvas[..., :3] = stroke_rgb  # colour is everywhere, even under transparent pixels
    result = preprocess_image(encode(canvas, "PNG"))
    reference = preprocess_image(drawn_digit_rgba("7", background="black"))
    assert not result.inverted
    assert_mnist_like(result)
    np.testing.assert_allclose(ink_of(result), ink_of(reference), atol=1e-3)


def test_transparent_pixels_colour_is_ignored():
    canvas = drawn_digit_rgba("1")
    noise = np.random.default_rng(0).integers(0, 256, (*canvas.shape[:2], 3), dtype=np.uint8)
    transparent = canvas[..., 3] == 0
    canvas[transparent, :3] = noise[transparent]
    result = preprocess_image(canvas)
    reference = preprocess_image(drawn_digit_rgba("1"))
    np.testing.assert_allclose(ink_of(result), ink_of(reference), atol=1e-3)


def test_opaque_sheet_with_transparent_margins_reads_the_drawing():
    # A scanned sheet with see-through corners: the ink is the dark drawing, not the sheet.
    sheet = np.array(seven(size=(300, 300), box=(90, 70, 190, 190)).convert("RGBA"))
    sheet[:30, :, 3] = 0
    sheet[:, :30, 3] = 0
    result = preprocess_image(encode(sheet, "PNG"))
    reference = preprocess_image(encode(seven(), "PNG"))
    assert result.inverted
    assert best_shifted_correlation(ink_of(result), ink_of(reference)) > 0.9


def test_stencil_cut_out_of_opaque_sheet():
    strokes = drawn_digit_rgba("7")
    stencil = np.full_like(strokes, 255)
    stencil[..., 3] = 255 - strokes[..., 3]
    result = preprocess_image(stencil)
    reference = preprocess_image(strokes)
    assert result.inverted
    np.testing.assert_allclose(ink_of(result), ink_of(reference), atol=1e-3)


def test_palette_png_with_transparency():
    picture = Image.new("P", (120, 120), 0)
    picture.putpalette([255, 255, 255, 20, 20, 20] + [0, 0, 0] * 254)
    ImageDraw.Draw(picture).line([(60, 15), (60, 105)], fill=1, width=10)
    picture.info["transparency"] = 0
    data = encode(picture, "PNG", transparency=0)
    assert Image.open(io.BytesIO(data)).mode == "P"
    result = preprocess_image(data)
    assert_mnist_like(result)
    assert not result.inverted  # the ink is the opaque part, whatever its colour
    rows, columns = ink_extent(ink_of(result))
    assert rows >= 19 and columns <= 6  # a vertical bar stays a vertical bar


# --- Framing ------------------------------------------------------------------------------


def test_off_centre_digit_is_centred_by_mass():
    centred = preprocess_image(encode(seven(size=(400, 400), box=(150, 130, 250, 250)), "PNG"))
    corner = preprocess_image(encode(seven(size=(400, 400), box=(10, 10, 110, 130)), "PNG"))
    assert_mnist_like(corner)
    np.testing.assert_allclose(ink_of(corner), ink_of(centred), atol=1e-3)


def test_longer_side_is_fitted_to_20_pixels():
    result = preprocess_image(encode(seven(size=(600, 600), box=(100, 100, 200, 500)), "PNG"))
    fitted = {step.label: step.image for step in result.steps}["fitted to 20×20"]
    assert fitted.shape[0] == 20 and fitted.shape[1] < 10  # tall and thin keeps its aspect
    rows, _ = ink_extent(ink_of(result), threshold=0.1)
    assert 19 <= rows <= 21


def test_steps_are_labelled_and_displayable():
    result = preprocess_image(encode(seven(size=(300, 200)), "JPEG"))
    labels = [step.label for step in result.steps]
    assert labels == [
        "original",
        "grayscale / ink",
        "inverted",
        "background removed",
        "cropped to ink",
        "fitted to 20×20",
        "centred 28×28",
    ]
    shapes = [step.image.shape for step in result.steps]
    assert shapes[0] == shapes[1] == shapes[2] == shapes[3] == (200, 300)  # decoded as luma
    assert max(shapes[5]) == 20 and shapes[6] == (28, 28)
    assert all(step.image.dtype == np.uint8 for step in result.steps)
    np.testing.assert_array_equal(result.steps[-1].image, np.round(ink_of(result) * 255))
    assert result.source_size == (300, 200)


def test_colour_jpeg_is_decoded_as_luma_and_shown_in_colour():
    photo = realistic_upload(mnist_digit(3)[0], size=(480, 360), ink=(200, 30, 30), seed=3)
    result = preprocess_image(photo)
    full = preprocess_image(Image.open(io.BytesIO(photo)))  # full colour decode, then to L
    assert result.steps[0].image.ndim == 2
    assert np.abs(ink_of(result) - ink_of(full)).max() < 0.15  # decoded at 1/2 scale
    shown = with_colour_original(result, photo)
    original = shown.steps[0].image
    assert original.shape == (180, 240, 3)  # at the scale the recipe read
    red, green = original[..., 0].astype(int), original[..., 1].astype(int)
    assert (red - green).max() > 100  # the red pen is red again
    assert shown.steps[1:] == result.steps[1:] and shown.input is result.input


@pytest.mark.parametrize("source", [
    encode(seven(), "PNG"),  # not a JPEG: decoded in colour already
    encode(seven().convert("L"), "JPEG"),  # a gray JPEG has no colour to show
    drawn_digit_rgba("4"),  # a drawing's array
], ids=["png", "gray-jpeg", "array"])
def test_with_colour_original_leaves_other_pictures_alone(source):
    result = preprocess_image(source)
    assert with_colour_original(result, source) is result


def test_no_inverted_step_when_not_inverted():
    result = preprocess_image(drawn_digit_rgba("1", background="black"))
    assert "inverted" not in [step.label for step in result.steps]
    assert result.steps[0].image.shape == (280, 280, 4)


def test_dust_speck_does_not_stretch_the_crop():
    clean = seven(size=(400, 400))
    dusty = clean.copy()
    ImageDraw.Draw(dusty).ellipse((385, 385, 388, 388), fill=BLACK)
    np.testing.assert_allclose(
        ink_of(preprocess_image(encode(dusty, "PNG"))),
        ink_of(preprocess_image(encode(clean, "PNG"))),
        atol=1e-3,
    )


def test_faint_pencil_reaches_full_intensity():
    faint = preprocess_image(encode(seven(ink=(190, 190, 190), paper=(235, 235, 235)), "JPEG"))
    dark = preprocess_image(encode(seven(), "JPEG"))
    assert_mnist_like(faint)
    assert best_shifted_correlation(ink_of(faint), ink_of(dark)) > 0.95


def test_hairline_digit_reaches_full_intensity():
    # A 2 px pen on a 1000 px photo averages down to a few percent grey in the 20×20 box.
    hairline = seven(size=(1000, 1000), box=(200, 150, 700, 750), width=2)
    result = preprocess_image(encode(hairline, "PNG"))
    assert_mnist_like(result)
    rows, _ = ink_extent(ink_of(result), threshold=0.2)
    assert rows >= 18


# --- Sizes --------------------------------------------------------------------------------


def test_tiny_picture():
    pixels = np.full((8, 8), 255, np.uint8)
    pixels[1:7, 3:5] = 0
    result = preprocess_image(encode(pixels, "PNG"))
    assert result.source_size == (8, 8)
    assert_mnist_like(result)


def test_large_picture_is_reduced_for_work_and_display():
    picture = seven(size=(3000, 2000), box=(900, 400, 1900, 1600), width=140)
    data = encode(picture, "JPEG", quality=85)
    result = preprocess_image(data)  # its speed: benchmarks/uploads.py
    assert result.source_size == (3000, 2000)
    assert result.steps[0].image.size <= 3 * 2_000_000
    reference = preprocess_image(encode(seven(), "PNG"))
    assert best_shifted_correlation(ink_of(result), ink_of(reference)) > 0.9


@pytest.mark.parametrize("size, working_shape", [
    # Decoded keeping COARSE_DRAFT_MIN_PIXELS (15,625): the ink found is long enough.
    ((480, 360), (180, 240)),  # 1/2 scale
    ((800, 600), (150, 200)),  # 1/4 scale
    ((1600, 1200), (150, 200)),  # 1/8 scale
    ((4032, 3024), (378, 504)),  # a 12 MP phone photo at 1/8 scale
], ids=["0.17MP", "0.48MP", "1.9MP", "12MP"])
def test_large_jpeg_is_drafted_and_matches_a_full_decode(size, working_shape):
    width, height = size
    box = (0.35 * width, 0.27 * height, 0.65 * width, 0.73 * height)
    data = encode(seven(size=size, box=box, width=width // 25), "JPEG", quality=90)
    drafted = preprocess_image(data)
    full = preprocess_image(Image.open(io.BytesIO(data)))  # a caller's PIL image: full decode
    assert drafted.steps[0].image.shape == working_shape  # the JPEG's own luma, drafted
    assert with_colour_original(drafted, data).steps[0].image.shape == (*working_shape, 3)
    assert drafted.source_size == full.source_size == size  # the upload's size, not the draft's
    assert drafted.inverted == full.inverted
    assert [step.label for step in drafted.steps] == [step.label for step in full.steps]
    assert np.abs(ink_of(drafted) - ink_of(full)).max() < 0.15
    assert np.corrcoef(ink_of(drafted).ravel(), ink_of(full).ravel())[0, 1] > 0.995


@pytest.mark.parametrize("orientation, stored_from_upright", [
    (3, Image.Transpose.ROTATE_180),
    (6, Image.Transpose.ROTATE_90),  # how phones store a portrait shot
    (8, Image.Transpose.ROTATE_270),
])
def test_drafted_jpeg_keeps_its_exif_orientation(orientation, stored_from_upright):
    # Guards the draft's size bookkeeping: the picture is turned after the reduced decode, so
    # source_size must come from the full stored size, swapped for the 90° orientations.
    upright = Image.new("RGB", (4000, 3000), WHITE)  # what the viewer sees: bar, block on right
    draw = ImageDraw.Draw(upright)
    draw.rectangle((800, 1400, 3200, 1600), fill=BLACK)
    draw.rectangle((2600, 1100, 3200, 1900), fill=BLACK)
    exif = Image.Exif()
    exif[0x0112] = orientation
    data = encode(upright.transpose(stored_from_upright), "JPEG", exif=exif.tobytes(),
                  quality=90)
    result = preprocess_image(data)
    assert result.source_size == (4000, 3000)
    assert result.steps[0].image.shape == (375, 500)  # decoded at 1/8 scale, as luma
    full = preprocess_image(Image.open(io.BytesIO(data)))
    assert np.abs(ink_of(result) - ink_of(full)).max() < 0.1
    rows, columns = ink_extent(ink_of(result))
    assert columns > rows
    assert ink_of(result)[:, 14:].sum() > ink_of(result)[:, :14].sum()


def test_jpeg_of_a_sixteenth_megapixel_or_less_is_decoded_in_full():
    data = realistic_upload(mnist_digit(5)[0], size=(280, 210))  # under 4 × 15,625 pixels
    result = preprocess_image(data)
    assert result.steps[0].image.shape == (210, 280)
    # Its own luma against Pillow's luminance of its full colour decode: the same but rounding.
    full = preprocess_image(Image.open(io.BytesIO(data)))
    assert np.abs(ink_of(result) - ink_of(full)).max() < 0.05


def test_small_ink_on_a_coarsely_decoded_jpeg_is_looked_for_again_at_the_finer_scale():
    field = np.zeros((100, 100), np.uint8)  # the digit covers a quarter of the field's side
    field[36:64, 36:64] = mnist_digit(8)[0]
    photo = realistic_upload(field, size=(480, 360), ink=(30, 30, 160))
    result = preprocess_image(photo)
    # At 1/2 scale its ink is under MIN_INK_SIDE px: decoded again, here in full.
    assert result.steps[0].image.shape == (360, 480)
    assert max(result.steps[4].image.shape) < 2 * MIN_INK_SIDE  # the cropped step
    full = preprocess_image(Image.open(io.BytesIO(photo)))
    assert np.abs(ink_of(result) - ink_of(full)).max() < 0.05
    assert with_colour_original(result, photo).steps[0].image.shape == (360, 480, 3)
    # The same digit filling the field (ink ≈ 58 px at 1/2 scale) stays at the coarse scale.
    large = preprocess_image(realistic_upload(field[36:64, 36:64], size=(480, 360)))
    assert large.steps[0].image.shape == (180, 240)


def float_picture(data: bytes) -> Image.Image:
    """The same grayscale levels as a 32-bit float picture, which takes the per-pixel path."""
    return Image.fromarray(np.asarray(Image.open(io.BytesIO(data)).convert("L"), np.float32))


@pytest.mark.parametrize("data", [
    # Both under WORKING_MAX_PIXELS: box-reducing rounds 8-bit and float pictures differently.
    realistic_upload(mnist_digit(1207)[0], size=(480, 360), seed=1),
    realistic_upload(mnist_digit(3311)[0], size=(400, 520), fmt="PNG", seed=2),
    encode(seven(ink=(190, 190, 190), paper=(235, 235, 235)), "JPEG"),
    encode(seven(ink=WHITE, paper=BLACK), "PNG"),
], ids=["photo-jpeg", "photo-png", "faint-pencil", "light-on-dark"])
def test_level_counts_give_exactly_the_per_pixel_results(data):
    """8-bit pictures are measured by counting their 256 levels; float pictures pixel by pixel.

    The reference: the same levels as an "F" picture. Every step must be identical.
    """
    counted = preprocess_image(Image.open(io.BytesIO(data)).convert("L"))
    per_pixel = preprocess_image(float_picture(data))
    assert counted.inverted == per_pixel.inverted
    np.testing.assert_array_equal(counted.input, per_pixel.input)
    assert [step.label for step in counted.steps] == [step.label for step in per_pixel.steps]
    for fast, reference in zip(counted.steps, per_pixel.steps):
        np.testing.assert_array_equal(fast.image, reference.image)


@pytest.mark.parametrize("size", [1, 2, 7, 50, 1001])
def test_median_of_level_counts_is_numpys_median(size):
    values = np.random.default_rng(size).integers(0, 256, size).astype(np.uint8)
    counts = np.bincount(values, minlength=256)
    levels = np.arange(256, dtype=np.float32)
    middle = np.median(values)
    assert _median(levels, counts) == middle
    assert _median(np.abs(levels - middle), counts) == np.median(np.abs(values - middle))


def test_level_counts_are_numpys_bincount_for_strided_views_too():
    from lepton.imaging.ink import _level_counts

    pixels = np.random.default_rng(3).integers(0, 256, (60, 90)).astype(np.uint8)
    for view in (pixels, pixels[:, :7], pixels[::3, 5:], pixels[0]):
        np.testing.assert_array_equal(_level_counts(view),
                                      np.bincount(view.ravel(), minlength=256))


@pytest.mark.parametrize("shape", [(20, 7), (3, 20), (20, 20)])
def test_centring_puts_scipys_centre_of_mass_at_the_field_centre(shape):
    from lepton.imaging import FIELD_SIZE, _centre_by_mass

    fitted = np.random.default_rng(sum(shape)).random(shape).astype(np.float32) ** 4 * 255
    field = _centre_by_mass(fitted)
    row, column = ndimage.center_of_mass(fitted)
    top, left = round(14 - row), round(14 - column)
    expected = np.zeros((FIELD_SIZE, FIELD_SIZE), np.float32)
    expected[top:top + shape[0], left:left + shape[1]] = fitted
    np.testing.assert_array_equal(field, expected)


def test_dust_is_removed_identically_by_both_paths():
    dusty = seven(size=(400, 400)).convert("L")
    draw = ImageDraw.Draw(dusty)
    for corner in ((385, 385), (12, 380), (370, 20)):
        draw.ellipse((*corner, corner[0] + 3, corner[1] + 3), fill=0)
    data = encode(dusty, "PNG")
    counted, per_pixel = preprocess_image(data), preprocess_image(float_picture(data))
    np.testing.assert_array_equal(counted.input, per_pixel.input)
    background = {step.label: step.image for step in counted.steps}["background removed"]
    assert background[380:, 380:].max() == 0  # the specks are gone from the displayed step


def test_extremely_thin_picture_with_ink():
    picture = Image.new("L", (10_000, 40), 255)
    ImageDraw.Draw(picture).line([(200, 20), (9_800, 20)], fill=0, width=6)
    result = preprocess_image(encode(picture, "PNG"))
    assert result.inverted
    assert result.input.max() == pytest.approx(1.0)
    rows, columns = ink_extent(ink_of(result), threshold=0.0)
    assert columns >= 19 and rows <= 3


# --- Formats ------------------------------------------------------------------------------


def test_jpeg_photo_of_paper():
    result = preprocess_image(realistic_upload(mnist_digit(0)[0]))
    assert result.inverted
    assert result.source_size == (600, 450)
    assert_mnist_like(result)


def test_exif_orientation_is_applied():
    # Stored sideways: a vertical bar with a heavy block at its top. Orientation 6 means
    # "rotate 90° clockwise to view", so the viewer sees a horizontal bar, block on the right.
    stored = Image.new("RGB", (120, 200), WHITE)
    draw = ImageDraw.Draw(stored)
    draw.rectangle((55, 20, 65, 180), fill=BLACK)
    draw.rectangle((40, 20, 80, 60), fill=BLACK)
    exif = Image.Exif()
    exif[0x0112] = 6
    result = preprocess_image(encode(stored, "JPEG", exif=exif.tobytes(), quality=95))
    assert result.source_size == (200, 120)
    upright = preprocess_image(encode(stored.transpose(Image.Transpose.ROTATE_270), "PNG"))
    assert best_shifted_correlation(ink_of(result), ink_of(upright)) > 0.95
    rows, columns = ink_extent(ink_of(result))
    assert columns > rows
    left_half, right_half = ink_of(result)[:, :14].sum(), ink_of(result)[:, 14:].sum()
    assert right_half > left_half


def test_sixteen_bit_png_uses_the_full_range():
    # In 8-bit terms the ink (30000) and the background (1000) would both clip or both be dim.
    pixels = np.full((64, 64), 1000, np.uint16)
    pixels[10:54, 29:35] = 30000
    data = encode(Image.fromarray(pixels), "PNG")
    assert Image.open(io.BytesIO(data)).mode.startswith("I")
    result = preprocess_image(data)
    assert not result.inverted
    assert_mnist_like(result)
    rows, columns = ink_extent(ink_of(result))
    assert rows >= 19 and columns <= 6


def test_cmyk_jpeg():
    picture = Image.new("CMYK", (120, 120), (0, 0, 0, 0))
    ImageDraw.Draw(picture).rectangle((55, 15, 65, 105), fill=(0, 0, 0, 255))
    data = encode(picture, "JPEG")
    assert Image.open(io.BytesIO(data)).mode == "CMYK"
    result = preprocess_image(data)
    assert result.inverted  # black K ink on white paper
    assert_mnist_like(result)


def test_gif_uses_the_first_frame():
    horizontal = Image.new("L", (100, 100), 0)
    ImageDraw.Draw(horizontal).rectangle((10, 45, 90, 55), fill=255)
    vertical = horizontal.transpose(Image.Transpose.ROTATE_90)
    data = encode(horizontal, "GIF", save_all=True, append_images=[vertical], duration=100)
    assert Image.open(io.BytesIO(data)).n_frames == 2
    rows, columns = ink_extent(ink_of(preprocess_image(data)))
    assert columns > 3 * rows


def test_pil_image_on_a_later_frame_still_uses_the_first():
    horizontal = Image.new("L", (100, 100), 0)
    ImageDraw.Draw(horizontal).rectangle((10, 45, 90, 55), fill=255)
    vertical = horizontal.transpose(Image.Transpose.ROTATE_90)
    data = encode(horizontal, "GIF", save_all=True, append_images=[vertical])
    animation = Image.open(io.BytesIO(data))
    animation.seek(1)
    rows, columns = ink_extent(ink_of(preprocess_image(animation)))
    assert columns > 3 * rows


def test_pil_image_and_float_array_inputs():
    canvas = drawn_digit_rgba("4", background="black")
    reference = ink_of(preprocess_image(canvas))
    from_pil = ink_of(preprocess_image(Image.fromarray(canvas)))
    from_floats = ink_of(preprocess_image(canvas[..., :3].astype(np.float64) / 255.0))
    from_bytearray = ink_of(preprocess_image(bytearray(encode(canvas, "PNG"))))
    for other in (from_pil, from_floats, from_bytearray):
        np.testing.assert_allclose(other, reference, atol=1e-3)


# --- Errors -------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "pixels",
    [
        np.full((60, 60, 3), 255, np.uint8),
        np.zeros((60, 60, 3), np.uint8),
        np.full((60, 60, 3), 128, np.uint8),
    ],
    ids=["white", "black", "grey"],
)
def test_blank_picture_has_no_ink(pixels):
    with pytest.raises(ImageError, match="No ink found"):
        preprocess_image(encode(pixels, "JPEG"))


def test_blank_paper_photo_has_no_ink():
    blank = np.zeros((28, 28), np.uint8)
    with pytest.raises(ImageError, match="No ink found"):
        preprocess_image(realistic_upload(blank))


def test_empty_transparent_canvas_has_no_ink():
    with pytest.raises(ImageError, match="No ink found"):
        preprocess_image(np.zeros((280, 280, 4), np.uint8))


def test_empty_bytes():
    with pytest.raises(ImageError, match="empty"):
        load_image(b"")


@pytest.mark.parametrize(
    "data", [b"hello, world", b"%PDF-1.4\n" + bytes(200), b"\x89PNG\r\n\x1a\n"]
)
def test_not_an_image(data):
    with pytest.raises(ImageError, match="not a picture"):
        preprocess_image(data)


@pytest.mark.parametrize("fmt", ["PNG", "JPEG", "GIF"])
def test_truncated_file(fmt):
    pixels = np.random.default_rng(0).integers(0, 256, (120, 120, 3), dtype=np.uint8)
    data = encode(pixels, fmt)
    with pytest.raises(ImageError, match="truncated or damaged"):
        preprocess_image(data[: len(data) // 2])


def png_declaring(width: int, height: int) -> bytes:
    """A valid 1×1 PNG whose header is patched to claim `width`×`height`."""
    data = bytearray(encode(np.zeros((1, 1), np.uint8), "PNG"))
    data[16:24] = struct.pack(">II", width, height)  # IHDR data starts at byte 16
    data[29:33] = struct.pack(">I", zlib.crc32(bytes(data[12:29])))  # CRC of "IHDR" + data
    return bytes(data)


def test_decompression_bomb_header_is_rejected_without_decoding(monkeypatch):
    def no_decoding(self):
        raise AssertionError("the pixels were decoded")

    monkeypatch.setattr(ImageFile.ImageFile, "load", no_decoding)
    with pytest.raises(ImageError, match="too large"):
        load_image(png_declaring(100_000, 100_000))


def test_picture_above_max_pixels_is_rejected_before_decoding():
    # 6000×6000 passes Pillow's own limit; decoding would fail differently (the data is 1×1),
    # so this message proves the size was checked first.
    with pytest.raises(ImageError, match=f"more than the {MAX_PIXELS:,} allowed"):
        load_image(png_declaring(6_000, 6_000))


@pytest.mark.parametrize("shape", [(0, 10), (10, 0, 3), (5, 5, 2), (4, 4, 4, 4)])
def test_unusable_arrays(shape):
    with pytest.raises(ImageError):
        preprocess_image(np.zeros(shape, np.uint8))


def test_unsupported_source_type():
    with pytest.raises(ImageError, match="getvalue"):
        preprocess_image("digit.png")


# --- Against real MNIST -------------------------------------------------------------------

MNIST_SAMPLE = [index for digit in range(10) for index in (digit * 500 + 7, digit * 500 + 311)]


def test_mnist_digit_passes_through_unchanged():
    for index in MNIST_SAMPLE[::4]:
        digit, _ = mnist_digit(index)
        result = ink_of(preprocess_image(digit))
        assert best_shifted_correlation(result, digit.astype(np.float32)) > 0.95, index


def test_photographed_mnist_digits_come_back_as_mnist():
    """A phone photo of a digit becomes its MNIST original again; a naive resize does not."""
    for number, index in enumerate(MNIST_SAMPLE):
        digit, label = mnist_digit(index)
        offset = (0.2 + 0.06 * (number % 10), 0.25 + 0.05 * (number % 7))
        upload = realistic_upload(digit, offset=offset, seed=index)
        pipeline = ink_of(preprocess_image(upload))
        assert best_shifted_correlation(pipeline, digit.astype(np.float32)) > 0.85, (index, label)
        # What skipping the pipeline gives: even with inversion, the digit is small and off-centre.
        naive = 255.0 - np.asarray(Image.open(io.BytesIO(upload)).convert("L").resize((28, 28)))
        assert best_shifted_correlation(naive, digit.astype(np.float32)) < 0.6, (index, label)
