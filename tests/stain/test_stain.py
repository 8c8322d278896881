"""Optical density, colour deconvolution and Macenko estimation."""

from __future__ import annotations

import json

import numpy as np
import pytest

from segkit.stain import (
    H_DAB,
    H_E,
    StainVectors,
    compose_stains,
    estimate_background,
    estimate_stain_vectors,
    optical_density,
    separate_stains,
    stain_preset,
)


def test_optical_density_formula_and_range():
    values = np.array([[[255, 127, 0]]], dtype=np.uint8)
    od = optical_density(values)
    assert od[0, 0, 0] == pytest.approx(0.0)
    assert od[0, 0, 1] == pytest.approx(-np.log10(128 / 256))  # 0.30103
    assert od[0, 0, 2] == pytest.approx(np.log10(256))  # black is finite: 2.408
    qupath = optical_density(values, formula="qupath")
    assert qupath[0, 0, 1] == pytest.approx(np.log10(255 / 127))
    assert qupath[0, 0, 2] == pytest.approx(np.log10(255))  # 0 is read as 1


def test_segkit_and_qupath_od_differ_by_the_stated_amount():
    values = np.arange(1, 256, dtype=np.float64).reshape(1, -1, 1).repeat(3, axis=2)
    diff = optical_density(values)[0, :, 0] - optical_density(values, formula="qupath")[0, :, 0]
    expected = np.log10(256 * values[0, :, 0] / (255 * (values[0, :, 0] + 1)))
    np.testing.assert_allclose(diff, expected, atol=1e-6)
    assert abs(diff[-1]) < 1e-6  # white
    assert abs(diff[49]) < 0.008  # I = 50
    assert abs(diff[127]) < 0.002  # I = 128


@pytest.mark.parametrize("dab_od", [0.2, 0.4, 0.6])
def test_dab_od_of_a_pixel_of_known_od_matches_qupaths_formula(dab_od):
    # RGB = 255 * 10^(-OD * vector): the pixel QuPath deconvolves to (h, dab) exactly.
    h_od = 0.3
    od = h_od * H_DAB.matrix[0] + dab_od * H_DAB.matrix[1]
    rgb = (255.0 * 10.0 ** (-od)).reshape(1, 1, 3)
    exact = separate_stains(rgb, H_DAB, formula="qupath")[0, 0]
    assert exact[H_DAB.index("DAB")] == pytest.approx(dab_od, abs=1e-5)
    assert exact[H_DAB.index("Hematoxylin")] == pytest.approx(h_od, abs=1e-5)
    assert exact[2] == pytest.approx(0.0, abs=1e-5)
    # segkit's default formula reads the same pixel within 0.01 OD of QuPath (0.0052 at 0.6)
    ours = separate_stains(rgb, H_DAB)[0, 0]
    assert ours[1] == pytest.approx(dab_od, abs=0.01)
    # rounded to uint8, as a real image is
    rounded = separate_stains(np.rint(rgb).astype(np.uint8), H_DAB, formula="qupath")[0, 0]
    assert rounded[1] == pytest.approx(dab_od, abs=0.01)


def test_skimage_rgb2hed_is_od_over_six_with_its_own_vectors():
    from skimage.color import rgb2hed

    conc = np.array([[[0.3, 0.5, 0.0]]])
    rgb = compose_stains(conc, H_DAB, formula="qupath")
    hed = rgb2hed(rgb / 255.0)[0, 0]  # channels: hematoxylin, eosin, DAB
    # ln(I/255) / ln(1e-6) == log10(255/I) / 6: skimage's scale is QuPath's OD / 6, and its
    # H-E-DAB matrix (rounded vectors, eosin instead of the residual) moves it by ~1 %.
    assert 6 * hed[2] == pytest.approx(0.5, rel=0.02)
    assert 6 * hed[0] == pytest.approx(0.3, rel=0.02)
    assert hed[2] == pytest.approx(0.5 / 6, rel=0.02)
    assert abs(hed[2] - 0.5) > 0.3  # not the same numbers as segkit/QuPath OD


def test_compose_and_separate_round_trip():
    rng = np.random.default_rng(0)
    conc = rng.uniform(0, 1, (8, 8, 3)) * np.array([1.0, 1.0, 0.0])
    back = separate_stains(compose_stains(conc, H_E), H_E)
    np.testing.assert_allclose(back, conc, atol=1e-4)


def test_residual_is_the_normalised_cross_product():
    h, d = H_DAB.matrix[0], H_DAB.matrix[1]
    cross = np.cross(h, d)
    np.testing.assert_allclose(H_DAB.matrix[2], cross / np.linalg.norm(cross))
    np.testing.assert_allclose(np.linalg.norm(H_DAB.matrix, axis=1), 1.0)
    assert H_DAB.vectors[0] == (0.651, 0.701, 0.290)


def test_json_round_trip():
    for sv in (H_DAB, H_E):
        assert StainVectors.from_json(sv.to_json()) == sv
        assert json.loads(sv.to_json())["vectors"][2] is None
    custom = StainVectors("mine", ("A", "B", "C"), ((1, 0, 0), (0, 1, 0), (0, 0, 1)))
    assert StainVectors.from_dict(custom.to_dict()) == custom


@pytest.mark.parametrize(
    ("data", "field"),
    [
        ({"name": "", "stains": ["a", "b", "c"], "vectors": [[1, 0, 0], [0, 1, 0], None]}, "name"),
        (
            {"name": "x", "stains": ["a", "a", "c"], "vectors": [[1, 0, 0], [0, 1, 0], None]},
            "stains",
        ),
        (
            {"name": "x", "stains": ["a", "b", "c"], "vectors": [[1, 0], [0, 1, 0], None]},
            "vectors[0]",
        ),
        (
            {"name": "x", "stains": ["a", "b", "c"], "vectors": [[1, 0, 0], [0, 0, 0], None]},
            "vectors[1]",
        ),
        (
            {"name": "x", "stains": ["a", "b", "c"], "vectors": [[1, 0, 0], [2, 0, 0], None]},
            "vectors",
        ),
        ({"name": "x", "stains": ["a", "b", "c"], "vectors": [[1, 0, 0], [0, 1, 0]]}, "vectors"),
        (
            {
                "name": "x",
                "stains": ["a", "b", "c"],
                "vectors": [[1, 0, 0], [0, 1, 0], None],
                "z": 1,
            },
            "z",
        ),
    ],
)
def test_validation_names_the_bad_field(data, field):
    with pytest.raises(ValueError, match=f"'{field}'".replace("[", r"\[").replace("]", r"\]")):
        StainVectors.from_dict(data)


def test_unknown_preset_and_stain_and_bad_images():
    assert stain_preset("H&E") is H_E
    with pytest.raises(ValueError, match="unknown stain preset"):
        stain_preset("PAS")
    with pytest.raises(ValueError, match="no stain 'Eosin'"):
        H_DAB.index("Eosin")
    with pytest.raises(ValueError, match=r"shape \(M, N, 3\)"):
        optical_density(np.zeros((4, 4), np.uint8))
    with pytest.raises(ValueError, match="8-bit"):
        optical_density(np.zeros((4, 4, 3), np.uint16))
    with pytest.raises(ValueError, match="unknown OD formula"):
        optical_density(np.zeros((4, 4, 3), np.uint8), formula="ln")


def _two_stain_image(h_vec, d_vec, n=4000, seed=0):
    rng = np.random.default_rng(seed)
    sv = StainVectors("t", ("Hematoxylin", "DAB", "Residual"), (h_vec, d_vec, None))
    conc = np.zeros((n, 3))
    half = n // 2
    conc[:half, 0] = rng.uniform(0.3, 1.0, half)  # pure hematoxylin pixels
    conc[half:, 1] = rng.uniform(0.3, 1.0, n - half)  # pure DAB pixels
    conc[:, :2] += rng.uniform(0, 0.05, (n, 2))
    rgb = np.rint(compose_stains(conc, sv)).astype(np.uint8).reshape(40, -1, 3)
    return rgb, sv


def test_macenko_recovers_the_stain_vectors_of_a_synthetic_image():
    h_true, d_true = (0.60, 0.72, 0.35), (0.30, 0.60, 0.74)
    image, sv = _two_stain_image(h_true, d_true)
    est = estimate_stain_vectors(image)
    assert est.name == "H-DAB (Macenko)"
    assert est.stains == H_DAB.stains
    for k in (0, 1):
        cosine = float(np.dot(est.matrix[k], sv.matrix[k]))
        assert cosine > np.cos(np.radians(4.0)), (k, est.matrix[k], sv.matrix[k])


def test_macenko_falls_back_to_the_defaults_on_a_blank_image():
    blank = np.full((64, 64, 3), 250, dtype=np.uint8)
    with pytest.warns(UserWarning, match="default stain vectors"):
        assert estimate_stain_vectors(blank) is H_DAB
    one_colour = np.rint(compose_stains(np.full((64, 64, 3), [0.5, 0, 0]))).astype(np.uint8)
    with pytest.warns(UserWarning, match="default stain vectors"):
        assert estimate_stain_vectors(one_colour, default="H&E") is H_E


def test_background_is_the_white_point():
    grey = StainVectors("grey", H_DAB.stains, H_DAB.vectors, (200, 198, 201))
    glass = np.array([[[200, 198, 201]]], dtype=np.uint8)
    np.testing.assert_allclose(separate_stains(glass, grey)[0, 0], 0.0, atol=1e-6)
    assert separate_stains(glass, H_DAB)[0, 0, 0] > 0.05  # read as stain against 255
    conc = np.array([[[0.3, 0.4, 0.0]]])
    np.testing.assert_allclose(separate_stains(compose_stains(conc, grey), grey), conc, atol=1e-5)
    assert H_DAB.with_background((200, 198, 201)).background == grey.background
    assert StainVectors.from_json(grey.to_json()) == grey
    with pytest.raises(ValueError, match="'background'"):
        H_DAB.with_background((0, 255, 255))


def test_estimate_background_of_grey_glass():
    conc = np.zeros((50, 50, 3))
    conc[10:30, 10:30] = (0.5, 0.2, 0.0)
    grey = H_DAB.with_background((210, 205, 190))
    image = np.rint(compose_stains(conc, grey)).astype(np.uint8)
    assert estimate_background(image) == pytest.approx((210, 205, 190), abs=1)
    with pytest.raises(ValueError, match="fraction"):
        estimate_background(image, fraction=0)
