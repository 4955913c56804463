"""What a trained CNN looks at: feature maps, saliency and Grad-CAM for one image.

Works on the `keras.Sequential` models of `lepton.model.build_model` (fresh or loaded from a
`.keras` file). Nothing here caches: a page that shows many images should keep the model from
`feature_model()` (and the loaded model) in its own cache.
"""

from __future__ import annotations

import math

import numpy as np

FEATURE_LAYER_TYPES = ("Conv2D", "MaxPooling2D", "AveragePooling2D")


def feature_model(model):
    """A `keras.Model` from the input to every conv and pooling layer's output, built once.

    Raises:
        ValueError: if the model has no conv or pooling layer, or no defined input.
    """
    import keras

    layers = [layer for layer in model.layers if type(layer).__name__ in FEATURE_LAYER_TYPES]
    if not layers:
        raise ValueError(
            "Expected a model with Conv2D or pooling layers, found "
            f"{', '.join(type(layer).__name__ for layer in model.layers) or 'no layers'}."
        )
    try:
        inputs = model.inputs
    except (AttributeError, ValueError) as error:
        raise ValueError(
            "The model has no defined input yet; build it with keras.Input (as "
            "lepton.model.build_model does) or call it on one batch first."
        ) from error
    # A single tensor, not a one-element list: Keras 3 warns when the call structure differs.
    return keras.Model(inputs[0], [layer.output for layer in layers], name="feature_maps")


def feature_maps(model, image, extractor=None) -> list[dict]:
    """Each conv and pooling layer's activations for one image.

    Args:
        model: a Sequential CNN from `lepton.model.build_model`.
        image: one image, (H, W, C) or (H, W) for one channel, float in [0, 1].
        extractor: the `feature_model(model)` to reuse; built here when None.

    Returns:
        One dict per layer in model order: {"name", "type", "maps": float32 (H, W, C)}.

    Raises:
        ValueError: if the image does not fit the model's input.
    """
    batch = _as_batch(model, image)
    extractor = extractor or feature_model(model)
    outputs = extractor(batch, training=False)
    if not isinstance(outputs, (list, tuple)):
        outputs = [outputs]
    layers = [layer for layer in model.layers if type(layer).__name__ in FEATURE_LAYER_TYPES]
    return [
        {
            "name": layer.name,
            "type": type(layer).__name__,
            "maps": np.asarray(output, dtype=np.float32)[0],
        }
        for layer, output in zip(layers, outputs, strict=True)
    ]


def grid(maps, columns: int = 8, scale: int = 1, separator: int = 255) -> np.ndarray:
    """Tiles the channels of one layer's maps into one 2-D uint8 image for display.

    Each channel is stretched to 0..255 on its own (its minimum black, its maximum white), so a
    weak but structured channel stays visible; a constant channel is drawn black. Tiles are
    `scale`× enlarged by pixel repetition (browsers blur small images when they enlarge them)
    and separated by 1-pixel lines of value `separator`; unused tiles of the last row take the
    separator value too.

    Args:
        maps: (H, W, C) activations, or (H, W) for one channel.
        columns: tiles per row at most.
        scale: integer enlargement of each tile.

    Returns:
        uint8 array of shape (rows·H·scale + rows − 1, cols·W·scale + cols − 1) with
        cols = min(C, columns) and rows = ceil(C / cols).
    """
    maps = np.asarray(maps, dtype=np.float32)
    if maps.ndim == 2:
        maps = maps[..., np.newaxis]
    if maps.ndim != 3 or min(maps.shape) < 1:
        raise ValueError(f"Expected maps of shape (H, W, C), got {maps.shape}.")
    for name, value in (("columns", columns), ("scale", scale)):
        if int(value) != value or value < 1:
            raise ValueError(f"Expected a whole number ≥ 1 for {name}, got {value}.")
    height, width, channels = maps.shape
    columns = min(int(columns), channels)
    rows = math.ceil(channels / columns)
    tile_height, tile_width = height * scale, width * scale
    canvas = np.full(
        (rows * tile_height + rows - 1, columns * tile_width + columns - 1),
        separator,
        dtype=np.uint8,
    )
    low = maps.min(axis=(0, 1))
    span = maps.max(axis=(0, 1)) - low
    safe_span = np.where(span > 0, span, 1.0)
    normalised = np.where(span > 0, (maps - low) / safe_span, 0.0)
    tiles = np.round(normalised * 255).astype(np.uint8)
    for channel in range(channels):
        row, col = divmod(channel, columns)
        top, left = row * (tile_height + 1), col * (tile_width + 1)
        tile = np.kron(tiles[:, :, channel], np.ones((scale, scale), dtype=np.uint8))
        canvas[top:top + tile_height, left:left + tile_width] = tile
    return canvas


def predicted_class(model, image) -> int:
    """Index of the most probable class for one image."""
    return int(np.argmax(np.asarray(model(_as_batch(model, image), training=False))[0]))


def saliency(model, image, class_index: int | None = None) -> np.ndarray:
    """|∂ logit / ∂ pixel| for one image, normalised to [0, 1] (Simonyan et al., 2014).

    The score is the class's logit (the output layer before softmax): the softmax probability
    saturates near 1 for a confident prediction, so its gradient vanishes where the logit's does
    not.

    Args:
        model: a Sequential CNN ending in a softmax Dense layer.
        image: one image (H, W, C) or (H, W).
        class_index: the class to explain; None explains the predicted class.

    Returns:
        float32 (H, W) in [0, 1]; the maximum over channels of the absolute gradient, divided
        by its maximum. All zeros if the gradient is zero everywhere.
    """
    import tensorflow as tf

    batch = tf.constant(_as_batch(model, image))
    class_index = _class_index(model, batch, class_index)
    with tf.GradientTape() as tape:
        tape.watch(batch)
        hidden = batch
        for layer in model.layers[:-1]:
            hidden = layer(hidden, training=False)
        score = _logits(model.layers[-1], hidden)[0, class_index]
    gradient = tape.gradient(score, batch)
    heat = np.abs(np.asarray(gradient, dtype=np.float32)[0]).max(axis=-1)
    return _unit_range(heat)


def grad_cam_cells(model, image, class_index: int | None = None) -> np.ndarray:
    """Grad-CAM map at the last Conv2D layer's own resolution, before upsampling.

    Channel weights are the spatial means of ∂ logit / ∂ activation (the conv layer's output
    after its activation); the map is the ReLU of the channels' weighted sum.

    Returns:
        float32 (h, w) ≥ 0, not normalised.

    Raises:
        ValueError: if the model has no Conv2D layer.
    """
    import tensorflow as tf

    last_conv = _last_conv_position(model)
    batch = tf.constant(_as_batch(model, image))
    class_index = _class_index(model, batch, class_index)
    activations = batch
    for layer in model.layers[: last_conv + 1]:
        activations = layer(activations, training=False)
    with tf.GradientTape() as tape:
        tape.watch(activations)
        hidden = activations
        for layer in model.layers[last_conv + 1: -1]:
            hidden = layer(hidden, training=False)
        score = _logits(model.layers[-1], hidden)[0, class_index]
    gradient = np.asarray(tape.gradient(score, activations), dtype=np.float32)[0]
    activations = np.asarray(activations, dtype=np.float32)[0]
    weights = gradient.mean(axis=(0, 1))
    return np.maximum((activations * weights).sum(axis=-1), 0.0).astype(np.float32)


def grad_cam(model, image, class_index: int | None = None) -> np.ndarray:
    """Grad-CAM (Selvaraju et al., 2017) on the last Conv2D layer, at the input's resolution.

    The map of `grad_cam_cells` is upsampled by where each conv output cell actually looks: in
    the reference network a conv2 cell i is centred on input pixel 3.5 + 2i, so its 11 cells
    span pixels 3.5..23.5 of 28, and a plain image resize (which spreads them over 0..27) would
    shift the heat outwards by up to 2 pixels.

    Args:
        model: a Sequential CNN with at least one Conv2D layer, ending in a softmax Dense layer.
        image: one image (H, W, C) or (H, W).
        class_index: the class to explain; None explains the predicted class.

    Returns:
        float32 (H, W) in [0, 1]; all zeros when no part of the last conv layer speaks for the
        class (the ReLU removes everything), rather than dividing by zero.

    Raises:
        ValueError: if the model has no Conv2D layer.
    """
    from scipy import ndimage

    cam = grad_cam_cells(model, image, class_index)
    input_height, input_width = (int(size) for size in model.input_shape[1:3])
    (row_start, row_step), (col_start, col_step) = cell_centres(
        model.layers[: _last_conv_position(model) + 1]
    )
    rows = (np.arange(input_height) - row_start) / row_step
    cols = (np.arange(input_width) - col_start) / col_step
    coordinates = np.meshgrid(rows, cols, indexing="ij")
    # Bilinear between cell centres; pixels outside the outermost centres take the edge value.
    upsampled = ndimage.map_coordinates(cam, coordinates, order=1, mode="nearest")
    return _unit_range(np.maximum(upsampled, 0.0))


def cell_centres(layers) -> tuple[tuple[float, float], tuple[float, float]]:
    """Where the cells of a stack of conv/pool layers look, as (start, step) per axis.

    Output cell i of the last layer is centred on input pixel start + step·i (pixel p's centre
    being p). A window of size k at stride s puts cell i at s·i + (k − 1)/2 − (padding before)
    of its input; composing that through the layers gives the result.
    """
    axes = []
    for axis in (0, 1):
        start, step = 0.0, 1.0
        for layer in layers:
            kind = type(layer).__name__
            if kind == "Conv2D":
                window = layer.dilation_rate[axis] * (layer.kernel_size[axis] - 1) + 1
                stride = layer.strides[axis]
            elif kind in FEATURE_LAYER_TYPES:
                window, stride = layer.pool_size[axis], layer.strides[axis]
            else:
                continue
            pad_before = 0
            if layer.padding == "same":
                size = int(layer.input.shape[1 + axis])
                out = math.ceil(size / stride)
                pad_before = max((out - 1) * stride + window - size, 0) // 2
            start += step * ((window - 1) / 2 - pad_before)
            step *= stride
        axes.append((start, step))
    return tuple(axes)


def overlay(image, heat, opacity: float = 0.6) -> np.ndarray:
    """The grey image with `heat` (values in [0, 1]) blended on top in black-red-yellow.

    Returns:
        uint8 RGB array (H, W, 3).
    """
    grey = np.asarray(image, dtype=np.float32)
    if grey.ndim == 3:
        grey = grey.mean(axis=-1)
    heat = np.clip(np.asarray(heat, dtype=np.float32), 0.0, 1.0)
    if grey.shape != heat.shape:
        raise ValueError(f"Expected a heat map of shape {grey.shape}, got {heat.shape}.")
    # A "hot" colour scale: red rises first, then green (yellow), blue stays off.
    colour = np.stack([np.clip(heat * 2, 0, 1), np.clip(heat * 2 - 1, 0, 1), 0 * heat], axis=-1)
    # The image is dimmed so that heat on white ink still shows its colour.
    base = np.repeat(np.clip(grey, 0, 1)[..., np.newaxis], 3, axis=-1) * 0.5
    weight = opacity * heat[..., np.newaxis]
    return np.round((base * (1 - weight) + colour * weight) * 255).astype(np.uint8)


def upscale(image, factor: int) -> np.ndarray:
    """Enlarges an (H, W) or (H, W, C) image `factor`× by repeating pixels (no blur)."""
    image = np.asarray(image)
    if int(factor) != factor or factor < 1:
        raise ValueError(f"Expected a whole number ≥ 1 for factor, got {factor}.")
    return image.repeat(factor, axis=0).repeat(factor, axis=1)


# --- helpers --------------------------------------------------------------------------------


def _as_batch(model, image) -> np.ndarray:
    """One image as a float32 batch of one, checked against the model's input shape."""
    image = np.asarray(image, dtype=np.float32)
    if image.ndim == 2:
        image = image[..., np.newaxis]
    expected = tuple(int(size) for size in model.input_shape[1:])
    if image.shape != expected:
        raise ValueError(
            f"Expected one image of shape {expected} (or {expected[:2]} for one channel), got "
            f"{image.shape}. Preprocess it first, e.g. with lepton.imaging.preprocess_image."
        )
    return image[np.newaxis]


def _class_index(model, batch, class_index: int | None) -> int:
    classes = int(model.output_shape[-1])
    if class_index is None:
        return int(np.argmax(np.asarray(model(batch, training=False))[0]))
    if int(class_index) != class_index or not 0 <= class_index < classes:
        raise ValueError(f"Expected class_index in 0..{classes - 1} or None, got {class_index}.")
    return int(class_index)


def _logits(head, hidden):
    """The output layer's pre-softmax scores; log-probabilities if it is not a softmax Dense."""
    import tensorflow as tf

    is_softmax_dense = (
        type(head).__name__ == "Dense"
        and getattr(head.activation, "__name__", "") == "softmax"
    )
    if not is_softmax_dense:
        return tf.math.log(tf.cast(head(hidden, training=False), tf.float32) + 1e-12)
    kernel = tf.convert_to_tensor(head.kernel)
    logits = tf.matmul(tf.cast(hidden, kernel.dtype), kernel)
    if head.use_bias:
        logits = logits + tf.convert_to_tensor(head.bias)
    return tf.cast(logits, tf.float32)


def _last_conv_position(model) -> int:
    positions = [
        position for position, layer in enumerate(model.layers)
        if type(layer).__name__ == "Conv2D"
    ]
    if not positions:
        raise ValueError("Grad-CAM needs a Conv2D layer; this model has none.")
    return positions[-1]


def _unit_range(heat: np.ndarray) -> np.ndarray:
    heat = np.asarray(heat, dtype=np.float32)
    peak = float(heat.max()) if heat.size else 0.0
    if not np.isfinite(peak) or peak <= 0:
        return np.zeros_like(heat, dtype=np.float32)
    return np.clip(heat / peak, 0.0, 1.0).astype(np.float32)
