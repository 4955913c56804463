"""The CNN: a validated configuration, the Keras model it builds, and its layer table."""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass

from lepton.i18n import message

POOLINGS = ("max", "avg")
ACTIVATIONS = ("relu", "sigmoid", "tanh")
MAX_CONV_BLOCKS = 3
# The choices the app offers (any positive value builds): powers of two around the reference.
FILTER_CHOICES = (8, 16, 32, 64, 128)
DENSE_CHOICES = (16, 32, 64, 128, 256, 512)
MAX_KERNEL_SIZE = 7
MAX_DROPOUT = 0.8


def _spatial_after_block(size: int, kernel_size: int) -> int:
    """Side length after one 'valid' conv followed by a 2×2 pool of stride 2."""
    return (size - kernel_size + 1) // 2


@dataclass(frozen=True)
class ModelConfig:
    """Architecture of the CNN. The defaults are the article's reference network.

    Each conv block is Conv2D(filters, kernel_size, activation) followed by a 2×2 pooling layer.
    """

    filters: tuple[int, ...] = (32, 64)  # one entry per conv block
    kernel_size: int = 3
    pooling: str = "max"
    dense_units: int = 128
    dropout_rate: float = 0.0  # applied before the output layer; 0 disables it
    activation: str = "relu"
    input_shape: tuple[int, int, int] = (28, 28, 1)
    num_classes: int = 10

    def __post_init__(self):
        object.__setattr__(self, "filters", tuple(int(f) for f in self.filters))
        object.__setattr__(self, "input_shape", tuple(int(s) for s in self.input_shape))
        if not 1 <= len(self.filters) <= MAX_CONV_BLOCKS:
            raise ValueError(
                f"Expected 1..{MAX_CONV_BLOCKS} conv blocks, got {len(self.filters)}. "
                "Give one filter count per block, e.g. filters=(32, 64)."
            )
        for count in self.filters:
            if not 1 <= count <= 512:
                raise ValueError(f"Expected filters in 1..512 per block, got {count}.")
        if not 1 <= self.kernel_size <= 7:
            raise ValueError(
                f"Expected kernel_size in 1..7, got {self.kernel_size}. "
                "Use a smaller kernel or a larger input."
            )
        if self.pooling not in POOLINGS:
            raise ValueError(f"Expected pooling in {POOLINGS}, got {self.pooling!r}.")
        if self.activation not in ACTIVATIONS:
            raise ValueError(f"Expected activation in {ACTIVATIONS}, got {self.activation!r}.")
        if not 1 <= self.dense_units <= 4096:
            raise ValueError(f"Expected dense_units in 1..4096, got {self.dense_units}.")
        if not 0.0 <= self.dropout_rate < 1.0:
            raise ValueError(f"Expected dropout_rate in [0, 1), got {self.dropout_rate}.")
        if len(self.input_shape) != 3 or min(self.input_shape) < 1:
            raise ValueError(
                f"Expected input_shape (height, width, channels), got {self.input_shape}."
            )
        if self.input_shape[2] not in (1, 3):
            raise ValueError(f"Expected 1 or 3 input channels, got {self.input_shape[2]}.")
        if self.num_classes < 2:
            raise ValueError(f"Expected at least 2 classes, got {self.num_classes}.")
        height, width = self.input_shape[:2]
        for block in range(len(self.filters)):
            height = _spatial_after_block(height, self.kernel_size)
            width = _spatial_after_block(width, self.kernel_size)
            if height < 1 or width < 1:
                raise ValueError(message(
                    "model.shrinks_to_nothing", blocks=len(self.filters),
                    kernel=self.kernel_size, height=self.input_shape[0],
                    width=self.input_shape[1], block=block + 1))

    @property
    def conv_blocks(self) -> int:
        return len(self.filters)

    def to_dict(self) -> dict:
        return dataclasses.asdict(self)

    @classmethod
    def from_dict(cls, values: dict) -> ModelConfig:
        known = {field.name for field in dataclasses.fields(cls)}
        return cls(**{key: value for key, value in values.items() if key in known})


def build_model(config: ModelConfig | None = None, dtype_policy: str = "float32"):
    """Returns an uncompiled `keras.Sequential` for `config` (default: the reference network).

    Args:
        dtype_policy: Keras dtype policy of the hidden layers, e.g. "mixed_bfloat16" to compute
            in bfloat16 with float32 weights. The output layer always computes in float32.
    """
    import keras
    from keras import layers

    config = config or ModelConfig()
    policy = {"dtype": dtype_policy}
    pool_layer = layers.MaxPooling2D if config.pooling == "max" else layers.AveragePooling2D
    stack = [keras.Input(shape=config.input_shape, name="image")]
    for index, filters in enumerate(config.filters, start=1):
        stack.append(
            layers.Conv2D(
                filters, config.kernel_size, activation=config.activation, name=f"conv{index}",
                **policy,
            )
        )
        stack.append(pool_layer(2, name=f"pool{index}", **policy))
    stack.append(layers.Flatten(name="flatten", **policy))
    stack.append(
        layers.Dense(config.dense_units, activation=config.activation, name="dense", **policy)
    )
    if config.dropout_rate > 0:
        stack.append(layers.Dropout(config.dropout_rate, name="dropout", **policy))
    # The output stays float32 even under a mixed-precision policy so softmax is stable.
    stack.append(
        layers.Dense(config.num_classes, activation="softmax", dtype="float32", name="output")
    )
    return keras.Sequential(stack, name="lepton_cnn")


def _layer_macs(layer, input_shape, output_shape) -> int:
    """Multiply-accumulates per image for the layers that have them."""
    kind = type(layer).__name__
    if kind == "Conv2D":
        kernel_height, kernel_width = layer.kernel_size
        in_channels = input_shape[-1]
        out_height, out_width, out_channels = output_shape[1:]
        return out_height * out_width * out_channels * kernel_height * kernel_width * in_channels
    if kind == "Dense":
        return int(input_shape[-1]) * int(output_shape[-1])
    return 0


def layer_table(model) -> list[dict]:
    """One row per layer: name, type, output shape, params, MACs and activation floats per image."""
    rows = []
    for layer in model.layers:
        input_shape = tuple(layer.input.shape)
        output_shape = tuple(layer.output.shape)
        activations = 1
        for size in output_shape[1:]:
            activations *= int(size)
        rows.append(
            {
                "name": layer.name,
                "type": type(layer).__name__,
                "output_shape": tuple(int(size) for size in output_shape[1:]),
                "params": int(layer.count_params()),
                "macs": int(_layer_macs(layer, input_shape, output_shape)),
                "activations": activations,
            }
        )
    return rows


def model_size_bytes(model) -> int:
    """Bytes the weights take in float32 (what a `.keras` file mostly holds)."""
    return int(model.count_params()) * 4
