"""Paired augmentation in NumPy, for the backend-neutral input pipeline.

The same transformations, parameters and distributions as :mod:`segkit.training.augment` (the
``tf.data`` version): random patches (optionally zoomed), flips, 90-degree rotations, stain
jitter, hue and saturation, brightness and contrast, blur and noise, with image and mask given
the same random geometry. Randomness
comes from a ``numpy.random.Generator`` (:func:`sample_rng` seeds one per sample), so a run is
reproducible; the random streams differ from TensorFlow's stateless ones, so the same seed
draws other patches and flips than under ``tf.data``, from the same distributions.

``image`` is float32 ``(H, W, C)`` with raw values 0..255 and ``mask`` integer ``(H, W, 1)``
class indices; masks are never interpolated.
"""

from __future__ import annotations

import numpy as np
from scipy import ndimage

__all__ = [
    "STAINS",
    "sample_rng",
    "augment_pair",
    "random_patch",
    "zoom_window",
    "resize_linear",
    "resize_nearest",
    "center_crop",
    "stain_jitter",
    "gaussian_kernel",
    "blur_radius",
    "adjust_hue_saturation",
    "gaussian_blur",
]

#: Rows: hematoxylin, eosin, DAB optical density vectors (QuPath's and Ruifrok's defaults):
#: together a basis of RGB optical density, so H&E and IHC images both decompose into it.
STAINS = (
    (0.651, 0.701, 0.290),
    (0.216, 0.801, 0.558),
    (0.269, 0.568, 0.778),
)
_BASIS = np.asarray(STAINS, np.float64) / np.linalg.norm(STAINS, axis=1, keepdims=True)
_INVERSE = np.linalg.inv(_BASIS)


def sample_rng(seed: int, *key: int) -> np.random.Generator:
    """A generator that depends only on ``seed`` and ``key`` (e.g. epoch, batch, item)."""
    return np.random.default_rng(np.random.SeedSequence([int(seed), *map(int, key)]))


def zoom_window(size: int, factor: float, limit: int) -> int:
    """Side of the window that, resized to ``size``, magnifies the tissue by ``factor``.

    ``round(size / factor)``, at least 1 and at most ``limit`` (the image's shorter side);
    both pipelines use this rule.
    """
    return int(min(max(round(size / factor), 1), limit))


def _half_pixel(size: int, side: int) -> np.ndarray:
    return (np.arange(size, dtype=np.float64) + 0.5) * (side / size)


def resize_linear(image: np.ndarray, size: int) -> np.ndarray:
    """Bilinear resize of a square ``(S, S, C)`` array to ``(size, size, C)``.

    Half-pixel centres and edge clamping, as :func:`tf.image.resize` (``bilinear``, no
    antialiasing) computes it.
    """
    side = image.shape[0]
    pos = np.clip(_half_pixel(size, side) - 0.5, 0.0, side - 1)
    low = np.floor(pos).astype(np.int64)
    high = np.minimum(low + 1, side - 1)
    frac = (pos - low).astype(np.float32)
    rows = image[low] * (1 - frac)[:, None, None] + image[high] * frac[:, None, None]
    return (rows[:, low] * (1 - frac)[None, :, None] + rows[:, high] * frac[None, :, None]).astype(
        np.float32
    )


def resize_nearest(mask: np.ndarray, size: int) -> np.ndarray:
    """Nearest-neighbour resize of a square ``(S, S, C)`` array to ``(size, size, C)``.

    Half-pixel centres, as :func:`tf.image.resize` (``nearest``); values are only copied.
    """
    side = mask.shape[0]
    index = np.minimum(np.floor(_half_pixel(size, side)).astype(np.int64), side - 1)
    return mask[index][:, index]


def random_patch(
    image: np.ndarray,
    mask: np.ndarray,
    size: int,
    rng: np.random.Generator,
    zoom: float = 0.0,
) -> tuple[np.ndarray, np.ndarray]:
    """Cut the same random ``size x size`` window from ``image`` and ``mask``.

    With ``zoom`` > 0 the tissue is magnified by a factor drawn log-uniform in
    ``[1 / (1 + zoom), 1 + zoom]``: a window of :func:`zoom_window` pixels is cut and resized
    to ``size`` (the image bilinear, the mask nearest-neighbour, so classes stay classes).
    """
    h, w = image.shape[:2]
    if size > h or size > w:
        raise ValueError(f"a patch of {size}x{size} does not fit into an image of {h}x{w}")
    side = size
    if zoom > 0:
        bound = np.log1p(zoom)
        side = zoom_window(size, float(np.exp(rng.uniform(-bound, bound))), min(h, w))
    top, left = int(rng.integers(h - side + 1)), int(rng.integers(w - side + 1))
    image = image[top : top + side, left : left + side]
    mask = mask[top : top + side, left : left + side]
    if side != size:
        image, mask = resize_linear(image, size), resize_nearest(mask, size)
    return image, mask


def center_crop(
    image: np.ndarray, mask: np.ndarray, multiple: int
) -> tuple[np.ndarray, np.ndarray]:
    """Crop both to the largest centred window whose sides divide by ``multiple``."""
    h, w = image.shape[:2]
    nh, nw = (h // multiple) * multiple, (w // multiple) * multiple
    top, left = (h - nh) // 2, (w - nw) // 2
    return image[top : top + nh, left : left + nw], mask[top : top + nh, left : left + nw]


def stain_jitter(
    image: np.ndarray, rng: np.random.Generator, strength: float, *, fade: float = 0.0
) -> np.ndarray:
    """Scale and shift the amount of each stain (hematoxylin, eosin, DAB) at random.

    As :func:`segkit.training.augment.stain_jitter`: optical density ``-log10((I + 1) / 256)``,
    colour deconvolution into the three stains, each concentration ``c`` becomes ``a * c + b``
    with ``a`` in ``[1 - strength, 1 + strength]`` and ``b`` in ``[-strength / 4, strength / 4]``
    OD, composed back to RGB and clipped to 0..255. With ``fade`` > 0 the hematoxylin's ``a``
    is also multiplied by a factor drawn in ``[1 - fade, 1]`` (drawn after ``a`` and ``b``):
    pale, under-stained nuclei. RGB images only.

    Parameters
    ----------
    image : (H, W, 3) ndarray
        Raw values 0..255.
    rng : numpy.random.Generator
    strength : float
    fade : float
        Largest fade of the hematoxylin, 0..1 (0: none).

    Returns
    -------
    (H, W, 3) float32 ndarray
    """
    return _stain_jitter(image, rng, strength, fade)


def _stain_jitter(
    image: np.ndarray, rng: np.random.Generator, strength: float, fade: float = 0.0
) -> np.ndarray:
    scale = rng.uniform(1.0 - strength, 1.0 + strength, size=(1, 3))
    shift = rng.uniform(-strength / 4, strength / 4, size=(1, 3))
    if fade > 0:  # the hematoxylin only: pale nuclei
        scale[0, 0] *= rng.uniform(1.0 - fade, 1.0)
    # OD in, OD out: od' = (od @ INVERSE * scale + shift) @ BASIS = od @ M + s. With
    # od = -ln((I + 1) / 256) / ln 10 the factors of ln 10 cancel in the product, so the
    # pixels need one natural log, one 3x3 product and one exp, in float32 (within 1e-4 of
    # the float64 formula on 0..255): a few times faster, which the input pipeline needs.
    mixing = ((_INVERSE * scale) @ _BASIS).astype(np.float32)
    offset = (shift @ _BASIS * -np.log(10.0)).reshape(3).astype(np.float32)
    log = np.log(image.reshape(-1, 3) + np.float32(1.0))
    log -= np.float32(np.log(256.0))
    out = log @ mixing
    out += offset
    np.exp(out, out=out)
    out *= np.float32(256.0)
    out -= np.float32(1.0)
    np.clip(out, 0.0, 255.0, out=out)
    return out.reshape(image.shape)


def gaussian_kernel(sigma: float, radius: int) -> np.ndarray:
    """The normalised 1-D Gaussian of ``sigma`` pixels on ``-radius..radius`` (both pipelines).

    ``sigma`` below 0.01 gives the identity (a single 1 in the middle).
    """
    x = np.arange(-radius, radius + 1, dtype=np.float64)
    weights = np.exp(-0.5 * (x / max(float(sigma), 0.01)) ** 2)
    return (weights / weights.sum()).astype(np.float32)


def blur_radius(blur: float) -> int:
    """Half-width of the blur kernel for sigmas up to ``blur``: ``ceil(3 * blur)``."""
    return int(np.ceil(3.0 * blur))


def gaussian_blur(image: np.ndarray, sigma: float, radius: int) -> np.ndarray:
    """Blur each channel with a separable Gaussian, the border mirrored (edge not repeated)."""
    kernel = gaussian_kernel(sigma, radius)
    out = ndimage.convolve1d(image, kernel, axis=0, mode="mirror")
    return ndimage.convolve1d(out, kernel, axis=1, mode="mirror")


def adjust_hue_saturation(image: np.ndarray, hue: float, saturation: float) -> np.ndarray:
    """Turn the hue by ``hue`` (fraction of the colour circle), scale the saturation.

    ``image`` RGB, values 0..255; HSV as :func:`tf.image.adjust_hue` and
    :func:`tf.image.adjust_saturation` define it (saturation clipped to 0..1).
    """
    from skimage.color import hsv2rgb, rgb2hsv

    hsv = rgb2hsv(np.clip(image, 0.0, 255.0) / 255.0)
    hsv[..., 0] = np.mod(hsv[..., 0] + hue, 1.0)
    hsv[..., 1] = np.clip(hsv[..., 1] * saturation, 0.0, 1.0)
    return (hsv2rgb(hsv) * 255.0).astype(np.float32)


def augment_pair(
    image: np.ndarray,
    mask: np.ndarray,
    rng: np.random.Generator,
    *,
    flip: bool = True,
    rotate90: bool = True,
    brightness: float = 0.1,
    contrast: float = 0.1,
    stain_jitter: float = 0.0,
    hematoxylin_fade: float = 0.0,
    hue: float = 0.0,
    saturation: float = 0.0,
    blur: float = 0.0,
    noise: float = 0.0,
) -> tuple[np.ndarray, np.ndarray]:
    """Randomly flip and rotate image and mask together; jitter the image's intensity.

    Parameters
    ----------
    image : (H, W, C) float32 ndarray
        Raw values 0..255.
    mask : (H, W, 1) integer ndarray
    rng : numpy.random.Generator
    flip, rotate90 : bool
        Horizontal/vertical flips (each with probability 1/2); rotations by a multiple of 90
        degrees (by 180 only when the image is not square, so shapes never change).
    brightness, contrast : float
        Largest brightness shift (fraction of 255) and contrast factor change, image only.
    stain_jitter : float
        Strength of the stain augmentation (:func:`stain_jitter`; RGB images, 0: off).
    hematoxylin_fade : float
        Largest fade of the hematoxylin (:func:`stain_jitter`'s ``fade``; RGB images, 0: off).
    hue, saturation : float
        Largest hue turn (fraction of the colour circle) and saturation factor change (RGB
        images, 0: off).
    blur : float
        Largest Gaussian blur sigma in pixels: sigma uniform in ``[0, blur]`` (0: off).
    noise : float
        Largest standard deviation of additive Gaussian noise, fraction of 255: drawn uniform in
        ``[0, noise]`` per image (0: off).

    Returns
    -------
    image : (H, W, C) float32 ndarray
    mask : ndarray of the input shape and dtype
    """
    # The draws keep their order (flips, turn, then the colour); the colour changes act on the
    # patch before it is flipped and turned (they commute: per pixel, per channel mean, an
    # isotropic blur), where its pixels are still contiguous, which is faster.
    flip_x = flip_y = False
    k = 0
    if flip:
        flip_x, flip_y = bool(rng.random() < 0.5), bool(rng.random() < 0.5)
    if rotate90:
        k = int(rng.integers(4))
        if image.shape[0] != image.shape[1]:
            k = (k // 2) * 2  # 0 or 180 degrees keep a non-square shape

    def turned(a: np.ndarray) -> np.ndarray:
        a = a[:, ::-1] if flip_x else a
        a = a[::-1] if flip_y else a
        return np.rot90(a, k, axes=(0, 1))

    mask = turned(mask)
    out = np.asarray(image, np.float32)
    if (stain_jitter > 0 or hematoxylin_fade > 0) and out.shape[-1] == 3:
        out = _stain_jitter(out, rng, stain_jitter, hematoxylin_fade)
    if (hue > 0 or saturation > 0) and out.shape[-1] == 3:
        turn = float(rng.uniform(-hue, hue)) if hue > 0 else 0.0
        gain = float(rng.uniform(1.0 - saturation, 1.0 + saturation)) if saturation > 0 else 1.0
        out = adjust_hue_saturation(out, turn, gain)
    if brightness > 0 or contrast > 0:
        # (x + b - mean(x + b)) * f + mean(x + b) = x * f + (mean(x) * (1 - f) + b), per channel
        shift = np.float32(rng.uniform(-brightness, brightness) * 255.0) if brightness > 0 else 0
        factor = np.float32(rng.uniform(1.0 - contrast, 1.0 + contrast)) if contrast > 0 else 1
        offset = np.float32(shift)
        if contrast > 0:
            mean = np.einsum("ijk->k", out, dtype=np.float64) / (out.shape[0] * out.shape[1])
            offset = (mean * (1.0 - float(factor)) + float(shift)).astype(np.float32)
        out = out * np.float32(factor) if factor != 1 else out + np.float32(0)
        out += offset
        np.clip(out, 0.0, 255.0, out=out)
    if blur > 0:
        out = gaussian_blur(out, rng.uniform(0.0, blur), blur_radius(blur))
    out = turned(out)
    if noise > 0:
        std = rng.uniform(0.0, noise) * 255.0
        out = np.clip(out + rng.normal(0.0, 1.0, out.shape).astype(np.float32) * std, 0.0, 255.0)
    return np.ascontiguousarray(out, np.float32), np.ascontiguousarray(mask)
