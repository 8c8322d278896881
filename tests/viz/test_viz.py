from __future__ import annotations

import csv

import numpy as np
import pytest
from matplotlib.backends.backend_agg import FigureCanvasAgg
from matplotlib.figure import Figure

from segkit import viz
from segkit.synthetic import make_synthetic_sample


@pytest.fixture(scope="module")
def sample():
    return make_synthetic_sample(48, 64, seed=3)


def _rendered(fig: Figure) -> np.ndarray:
    canvas = FigureCanvasAgg(fig)
    canvas.draw()
    return np.asarray(canvas.buffer_rgba())


def test_as_label_mask_encodings():
    m255 = np.array([[0, 255], [255, 0]], dtype=np.uint8)
    assert viz.as_label_mask(m255).tolist() == [[0, 1], [1, 0]]
    assert viz.as_label_mask(m255 > 0).tolist() == [[0, 1], [1, 0]]
    classes = np.array([[0, 1], [2, 0]], dtype=np.uint8)
    assert viz.as_label_mask(classes).tolist() == classes.tolist()
    with pytest.raises(ValueError, match="2-D"):
        viz.as_label_mask(np.zeros((2, 2, 3)))


def test_blend_overlay_alpha_controls_opacity(sample):
    image = np.full((8, 8, 3), 100, dtype=np.uint8)
    mask = np.zeros((8, 8), dtype=np.uint8)
    mask[2:5, 2:5] = 255
    none = viz.blend_overlay(image, mask, alpha=0.0)
    full = viz.blend_overlay(image, mask, alpha=1.0)
    half = viz.blend_overlay(image, mask, alpha=0.5)
    assert np.array_equal(none, image)
    assert tuple(full[3, 3]) == (0, 200, 83)
    assert tuple(full[0, 0]) == (100, 100, 100)  # background untouched
    assert tuple(half[3, 3]) == (50, 150, 92)
    with pytest.raises(ValueError, match="alpha"):
        viz.blend_overlay(image, mask, alpha=1.5)


def test_blend_overlay_prediction_and_shape_check():
    image = np.zeros((6, 6), dtype=np.uint8)  # grayscale becomes RGB
    pred = np.zeros((6, 6), dtype=np.uint8)
    pred[0:2, 0:2] = 1
    out = viz.blend_overlay(image, prediction=pred, alpha=1.0)
    assert out.shape == (6, 6, 3)
    assert tuple(out[0, 0]) == (255, 0, 170)
    with pytest.raises(ValueError, match="does not match"):
        viz.blend_overlay(image, np.zeros((5, 6), dtype=np.uint8))


def test_mask_boundaries_separates_instances():
    labels = np.zeros((10, 12), dtype=np.uint16)
    labels[2:8, 1:6] = 3
    labels[2:8, 6:11] = 7  # touches instance 3
    edges = viz.mask_boundaries(labels)
    assert edges[4, 5] and edges[4, 6]  # the shared border of two instances
    assert not edges[4, 3]  # interior
    assert not edges[0, 0]  # background
    binary = (labels > 0).astype(np.uint8) * 255
    merged = viz.mask_boundaries(binary)
    assert not merged[4, 5]  # one connected component: no inner line
    assert merged[2, 3]


def test_contours_leave_interior_visible(sample):
    out = viz.blend_overlay(sample.image, sample.labels, contours=True)
    inside = (sample.labels > 0) & ~viz.mask_boundaries(sample.labels)
    assert np.array_equal(out[inside], sample.image[inside])
    assert not np.array_equal(out, sample.image)


def test_colorize_mask_multiclass():
    m = np.array([[0, 1, 2]], dtype=np.uint8)
    rgb = viz.colorize_mask(m)
    assert tuple(rgb[0, 0]) == (0, 0, 0)
    assert tuple(rgb[0, 1]) == viz.CLASS_COLOURS[0]
    assert tuple(rgb[0, 2]) == viz.CLASS_COLOURS[1]


def test_overlay_returns_figure_and_uses_given_axes(sample, tmp_path):
    fig = viz.overlay(sample.image, sample.mask, sample.mask, alpha=0.6, contours=True)
    assert isinstance(fig, Figure)
    fig.savefig(tmp_path / "o.png")
    assert (tmp_path / "o.png").stat().st_size > 1000
    host = Figure()
    ax = host.add_subplot(1, 1, 1)
    assert viz.overlay(sample.image, sample.mask, ax=ax) is host
    assert ax.get_title() == "image + mask"


def test_prediction_grid_rows_and_columns(sample):
    images = [sample.image] * 8
    masks = [sample.mask] * 8
    fig = viz.prediction_grid(
        images, masks, masks, titles=[f"t{i}" for i in range(8)], max_samples=4
    )
    assert len(fig.axes) == 12
    assert fig.axes[0].get_title() == "original: t0"
    assert [fig.axes[i].get_title() for i in (1, 2)] == ["mask", "prediction"]
    two = viz.prediction_grid(images[:2], masks[:2])
    assert len(two.axes) == 4
    assert _rendered(two).shape[2] == 4
    with pytest.raises(ValueError, match="no samples"):
        viz.prediction_grid([], [])


def test_plot_history_from_dict_and_csv(tmp_path):
    hist = {
        "loss": [0.9, 0.5, 0.3],
        "val_loss": [1.0, 0.6, 0.5],
        "dice": [0.2, 0.5, 0.7],
        "val_dice": [0.1, 0.4, 0.6],
        "learning_rate": [1e-3] * 3,
    }
    fig = viz.plot_history(hist)
    loss_ax, metric_ax = fig.axes
    assert sorted(line.get_label() for line in loss_ax.get_lines()) == ["loss", "val loss"]
    assert sorted(line.get_label() for line in metric_ax.get_lines()) == ["dice", "val dice"]
    np.testing.assert_allclose(loss_ax.get_lines()[0].get_ydata(), hist["loss"])

    path = tmp_path / "history.csv"
    with open(path, "w", newline="") as fh:
        w = csv.writer(fh)
        w.writerow(["epoch", "loss", "val_loss"])
        for i in range(3):
            w.writerow([i, hist["loss"][i], hist["val_loss"][i]])
    assert viz.load_history(tmp_path)["val_loss"] == hist["val_loss"]
    fig2 = viz.plot_history(path)
    assert len(fig2.axes) == 1
    with pytest.raises(FileNotFoundError, match="history"):
        viz.plot_history(tmp_path / "missing.csv")
    with pytest.raises(ValueError, match="no metrics"):
        viz.plot_history({"epoch": [0, 1]})


def test_plot_metric_distribution_names_worst(sample):
    per_image = [{"name": f"img{i}", "dice": d} for i, d in enumerate([0.9, 0.2, 0.8, 0.5, 0.95])]
    fig = viz.plot_metric_distribution(per_image, worst=2)
    title = fig.axes[0].get_title()
    assert "img1 (0.200)" in title and "img3 (0.500)" in title and "img0" not in title
    images = {f"img{i}": (sample.image, sample.mask, sample.mask) for i in range(5)}
    fig2 = viz.plot_metric_distribution(per_image, images=images, worst=2)
    assert [ax.get_title() for ax in fig2.axes[1:]] == ["img1: dice 0.200", "img3: dice 0.500"]
    _rendered(fig2)
    with pytest.raises(KeyError, match="iou"):
        viz.plot_metric_distribution(per_image, "iou")


def test_figures_show_as_png_in_jupyter(sample):
    for fig in (
        viz.overlay(sample.image, sample.mask),
        viz.prediction_grid([sample.image], [sample.mask]),
        viz.plot_history({"loss": [1.0, 0.5]}),
        viz.plot_metric_distribution([{"name": "a", "dice": 0.5}]),
    ):
        assert fig._repr_png_()[:8] == b"\x89PNG\r\n\x1a\n"
