"""Images and masks: decoding, encoding, conversion and resizing, safely.

- :mod:`~segkit.imaging.codecs`: read, decode, encode and write image files. Every reader
  returns a NumPy array in ``(row, col[, channel])`` order and raises :class:`ImageReadError`
  naming the file; every writer is atomic (:mod:`segkit.files`).
- :mod:`~segkit.imaging.colour`: bit depth, channels and colour models.
- :mod:`~segkit.imaging.resize`: area/bilinear resizing of images, nearest of masks.
- :mod:`~segkit.imaging.masks`: mask encodings (source masks to classes, the prepared form).
"""

from segkit.imaging.codecs import (
    DEFAULT_MAX_PIXELS,
    IMAGE_EXTENSIONS,
    ImageReadError,
    decode_image,
    decode_pil,
    encode_image,
    image_size,
    read_image,
    write_image,
)
from segkit.imaging.colour import (
    binarize,
    threshold_otsu,
    to_channels,
    to_color_model,
    to_grayscale,
    to_rgb,
    to_uint8,
)
from segkit.imaging.masks import (
    decode_mask,
    describe_mask_values,
    encode_mask,
    labels_from_colours,
    mask_to_classes,
    mask_values,
    merge_masks,
    read_mask,
)
from segkit.imaging.resize import pil_resample, resize_image, resize_mask

__all__ = [
    "IMAGE_EXTENSIONS",
    "DEFAULT_MAX_PIXELS",
    "ImageReadError",
    "read_image",
    "decode_image",
    "decode_pil",
    "write_image",
    "image_size",
    "encode_image",
    "to_uint8",
    "to_grayscale",
    "to_color_model",
    "to_channels",
    "to_rgb",
    "threshold_otsu",
    "binarize",
    "pil_resample",
    "resize_image",
    "resize_mask",
    "decode_mask",
    "read_mask",
    "merge_masks",
    "labels_from_colours",
    "mask_to_classes",
    "encode_mask",
    "mask_values",
    "describe_mask_values",
]
