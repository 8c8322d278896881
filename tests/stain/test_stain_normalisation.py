"""Stain normalisation: the target's JSON, Reinhard's statistics, Macenko's correction, glass."""

from __future__ import annotations

import warnings

import numpy as np
import pytest

from segkit.stain import H_DAB, H_E, StainVectors, compose_stains, separate_stains
from segkit.stain_normalisation import (
    GLASS_RAMP,
    StainNormalisation,
    fit_stain_normalisation,
    lab_to_rgb,
    measure_stain,
    normalise,
    rgb_to_lab,
    stain_normaliser,
)
from segkit.synthetic import make_synthetic_sample

# A stain shift as another lab's: other hues of both stains, hematoxylin darker, DAB paler.
SHIFTED = StainVectors("shifted", ("H", "D", "R"), ((0.55, 0.75, 0.37), (0.20, 0.62, 0.76), None))


def _ihc(seed: int, size: int = 128) -> np.ndarray:
    return make_synthetic_sample(size, size, seed=seed).image


def _he(seed: int, size: int = 128) -> np.ndarray:
    """An H&E-like tile: the synthetic IHC's stain amounts composed with H&E vectors."""
    conc = separate_stains(_ihc(seed, size), H_DAB)
    return np.clip(np.rint(compose_stains(conc, H_E)), 0, 255).astype(np.uint8)


def _shift(image: np.ndarray, stains: StainVectors) -> np.ndarray:
    conc = separate_stains(image, stains)
    conc[..., 0] *= 1.35
    conc[..., 1] *= 0.75
    return np.clip(np.rint(compose_stains(conc, SHIFTED)), 0, 255).astype(np.uint8)


def _distance(a: np.ndarray, b: np.ndarray) -> float:
    """Mean CIELAB distance (delta E 1976) between two images."""
    return float(np.linalg.norm(rgb_to_lab(a) - rgb_to_lab(b), axis=-1).mean())


@pytest.fixture(scope="module")
def targets() -> dict[str, StainNormalisation]:
    images = [_ihc(seed) for seed in range(10, 14)]
    return {m: fit_stain_normalisation(images, m) for m in ("macenko", "reinhard")}


@pytest.mark.parametrize("method", ["macenko", "reinhard"])
def test_a_fitted_target_survives_json_and_records_its_images(targets, method) -> None:
    norm = targets[method]
    assert norm.method == method and norm.fitted_on == 4 and not norm.is_none
    again = StainNormalisation.from_json(norm.to_json())
    assert again == norm
    assert set(norm.to_dict()) == {"method", "fitted_on"} | set(
        ("stain_vectors", "max_concentrations") if method == "macenko" else ("lab_mean", "lab_std")
    )


def test_none_is_the_default_and_reads_from_nothing() -> None:
    assert StainNormalisation().to_dict() == {"method": "none"}
    assert StainNormalisation.from_dict(None) == StainNormalisation.from_dict("none")
    assert StainNormalisation.from_dict({"method": "none"}).is_none
    image = _ihc(0)
    out = normalise(image, StainNormalisation())
    assert out.dtype == np.uint8 and np.shares_memory(out, image)  # uint8 passes untouched


@pytest.mark.parametrize(
    ("data", "field"),
    [
        ({"method": "histogram"}, "method"),
        ({"method": "reinhard", "lab_mean": [50, 0, 0]}, "lab_std"),
        ({"method": "reinhard", "lab_mean": [50, 0, 0], "lab_std": [10, 0, 5]}, "lab_std"),
        ({"method": "none", "lab_mean": [50, 0, 0]}, "lab_mean"),
        (
            {
                "method": "macenko",
                "stain_vectors": [[1, 0, 0], [1, 0, 0]],
                "max_concentrations": [1, 1],
            },
            "stain_vectors",
        ),  # fmt: skip
        (
            {
                "method": "macenko",
                "stain_vectors": [[0.6, 0.7, 0.3], [0.3, 0.6, 0.8]],
                "max_concentrations": [1, -1],
            },
            "max_concentrations",
        ),  # fmt: skip
        ({"method": "none", "colour": "blue"}, "colour"),
    ],
)
def test_a_bad_target_names_its_field(data, field) -> None:
    with pytest.raises(ValueError, match=f"stain normalisation field '{field}'"):
        StainNormalisation.from_dict(data)


def test_lab_matches_skimage_and_inverts() -> None:
    from skimage.color import rgb2lab

    rgb = np.random.default_rng(0).integers(0, 256, (40, 40, 3)).astype(np.uint8)
    np.testing.assert_allclose(rgb_to_lab(rgb), rgb2lab(rgb), atol=1e-3)
    np.testing.assert_allclose(lab_to_rgb(rgb_to_lab(rgb)), rgb, atol=0.05)
    np.testing.assert_allclose(rgb_to_lab(rgb.astype(np.float32)), rgb2lab(rgb), atol=1e-3)


def test_reinhard_gives_the_target_lab_statistics(targets) -> None:
    norm = targets["reinhard"]
    # tissue everywhere (no pixel in the glass ramp): the statistics of the whole image
    image = np.rint(_ihc(3) * 0.78).astype(np.uint8)
    assert image.max() < GLASS_RAMP[0]
    out = normalise(image, norm)
    lab = rgb_to_lab(out).reshape(-1, 3)
    np.testing.assert_allclose(lab.mean(axis=0), norm.lab_mean, atol=0.5)
    np.testing.assert_allclose(lab.std(axis=0), norm.lab_std, rtol=0.03)
    before = rgb_to_lab(image).reshape(-1, 3)
    assert np.abs(before.mean(axis=0) - norm.lab_mean).max() > 5  # it had to move


def test_reinhard_keeps_glass() -> None:
    norm = StainNormalisation("reinhard", lab_mean=(40.0, 30.0, -20.0), lab_std=(15.0, 8.0, 8.0))
    image = _ihc(4)
    image[:40] = 255
    out = normalise(image, norm)
    np.testing.assert_array_equal(out[:40], 255)
    assert np.abs(out[60:].astype(int) - image[60:]).mean() > 5


@pytest.mark.parametrize("kind", ["ihc", "he"])
def test_macenko_brings_a_stain_shifted_image_back(kind) -> None:
    make, stains = (_ihc, H_DAB) if kind == "ihc" else (_he, H_E)
    norm = fit_stain_normalisation([make(seed) for seed in range(20, 24)], "macenko")
    for seed in (0, 1):
        reference = make(seed)
        shifted = _shift(reference, stains)
        out = normalise(shifted, norm)
        assert _distance(out, reference) < 0.8 * _distance(shifted, reference)
        # the shift itself is gone: both lab's images normalise to nearly the same picture
        assert _distance(out, normalise(reference, norm)) < 0.2 * _distance(shifted, reference)


def test_reinhard_brings_a_stain_shifted_image_back(targets) -> None:
    reference = _ihc(0)
    shifted = _shift(reference, H_DAB)
    out = normalise(shifted, targets["reinhard"])
    assert _distance(out, reference) < 0.8 * _distance(shifted, reference)


@pytest.mark.parametrize("method", ["macenko", "reinhard"])
def test_glass_or_flat_images_pass_unchanged_without_a_warning(targets, method) -> None:
    glass = np.full((64, 64, 3), 243, dtype=np.uint8)
    flat = np.full((64, 64, 3), (150, 90, 160), dtype=np.uint8)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        for image in (glass, flat):
            assert measure_stain(image, method) is None
            np.testing.assert_array_equal(normalise(image, targets[method]), image)
            np.testing.assert_array_equal(normalise(image.astype(np.float32), targets[method]),
                                          image)  # fmt: skip


def test_fitting_on_glass_only_is_refused() -> None:
    with pytest.raises(ValueError, match="no image has enough stained tissue"):
        fit_stain_normalisation([np.full((32, 32, 3), 250, np.uint8)], "macenko")


@pytest.mark.parametrize("method", ["macenko", "reinhard"])
def test_pieces_normalised_by_one_measurement_agree_with_the_whole(targets, method) -> None:
    image = _ihc(5, 192)
    norm = targets[method]
    apply = stain_normaliser(norm, image)
    assert apply is not None
    whole = normalise(image, norm, source=measure_stain(image, method))
    pieces = np.concatenate([apply(image[:, :96]), apply(image[:, 96:])], axis=1)
    np.testing.assert_array_equal(pieces, whole)
    assert stain_normaliser(StainNormalisation(), image) is None
