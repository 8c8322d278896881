"""What the widgets do, as plain functions (no ipywidgets here, so it is unit-tested directly).

The template form hands :func:`validate_form` a dict of the values its fields hold and gets
back either a :class:`~segkit.template.DatasetTemplate` or an error message per field; all
rules come from :mod:`segkit.template` itself, checked field by field so that every wrong
field is reported at once.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from segkit.template import ClassSpec, DatasetTemplate, SplitSpec, TemplateError, save_template

__all__ = [
    "IMAGE_TYPE_CHOICES",
    "COLOR_MODEL_CHOICES",
    "LAYOUT_CHOICES",
    "FIT_CHOICES",
    "FORM_FIELDS",
    "FormResult",
    "template_to_form",
    "parse_class_names",
    "parse_mapping",
    "validate_form",
    "generate_settings",
    "update_history",
    "select_curves",
    "progress_text",
    "figure_png",
    "BrowseItem",
    "DatasetView",
    "open_dataset",
    "load_item",
    "render_overlay",
    "resolve_model",
    "decode_upload",
    "predict_mask",
]

# (label shown in the form, template value); order as in the paper's form, TIFF added.
IMAGE_TYPE_CHOICES: tuple[tuple[str, str], ...] = (
    ("JPG", "jpg"),
    ("PNG", "png"),
    ("BMP", "bmp"),
    ("TIFF", "tif"),
)
COLOR_MODEL_CHOICES: tuple[tuple[str, str], ...] = (
    ("RGB", "rgb"),
    ("GRAYSCALE", "grayscale"),
    ("BINARY", "binary"),
)
LAYOUT_CHOICES: tuple[tuple[str, str], ...] = (
    ("Separate directories for original images and masks", "separate"),
    (
        "Original images and masks in the same directory (example1.png, example1_mask.png)",
        "suffix",
    ),
)
FIT_CHOICES: tuple[tuple[str, str], ...] = (
    ("stretch (resize, ignore aspect)", "stretch"),
    ("pad (resize, keep aspect, pad)", "pad"),
    ("crop (resize, keep aspect, centre-crop)", "crop"),
    ("tile (cut into tiles, no resizing)", "tile"),
)
# Every value the form holds, in display order.
FORM_FIELDS: tuple[str, ...] = (
    "width",
    "height",
    "image_type",
    "color_model",
    "layout",
    "mask_keyword",
    "fit",
    "classes",
    "mapping",
    "train",
    "val",
    "test",
    "seed",
    "group_pattern",
    "output",
)
_FIELD_IN_MESSAGE = re.compile(r"template field '([^']+)'")


@dataclass(frozen=True)
class FormResult:
    """Outcome of validating (and perhaps writing) the form.

    Attributes
    ----------
    template : DatasetTemplate or None
        ``None`` when any field is invalid.
    errors : dict
        Form field name -> message, for every invalid field.
    path : Path or None
        Where the JSON was written, if it was.
    """

    template: DatasetTemplate | None
    errors: dict[str, str] = field(default_factory=dict)
    path: Path | None = None

    @property
    def ok(self) -> bool:
        return self.template is not None and not self.errors


def template_to_form(template: DatasetTemplate, output: str | Path = "template.json") -> dict:
    """The form values that describe ``template`` (inverse of :func:`validate_form`)."""
    mapping = template.classes.to_dict()["mapping"]
    return {
        "width": template.width,
        "height": template.height,
        "image_type": template.image_type,
        "color_model": template.color_model,
        "layout": template.layout,
        "mask_keyword": template.mask_keyword,
        "fit": template.fit,
        "classes": ", ".join(template.classes.names),
        "mapping": "" if mapping is None else ", ".join(f"{k}={v}" for k, v in mapping.items()),
        "train": template.split.train,
        "val": template.split.val,
        "test": template.split.test,
        "seed": template.split.seed,
        "group_pattern": template.split.group_pattern or "",
        "output": str(output),
    }


def parse_class_names(text: str) -> tuple[str, ...]:
    """``"background, nucleus"`` -> ``("background", "nucleus")``."""
    return tuple(part.strip() for part in str(text).split(","))


def parse_mapping(text: str) -> dict[str, int] | None:
    """``"0=1"`` or ``"#ff0000=2, #00ff00=1"`` -> ``{"#ff0000": 2, ...}``; empty -> ``None``.

    Items are separated by commas, or by semicolons when colours are written as
    ``"255,0,0=2; 0,255,0=1"``.

    Raises
    ------
    TemplateError
        Naming ``classes.mapping`` and the item that does not parse.
    """
    text = str(text).strip()
    if not text:
        return None
    out: dict[str, int] = {}
    # Colours written as "255,0,0" contain commas, so split items on ";" when one is used.
    items = text.split(";") if ";" in text else text.split(",")
    for item in items:
        key, sep, idx = item.strip().rpartition("=")
        if not sep or not key.strip():
            raise TemplateError(
                f"template field 'classes.mapping': invalid value {item.strip()!r}; "
                "write VALUE=CLASS items, e.g. '255=1' or '#ff0000=2, #00ff00=1'"
            )
        try:
            out[key.strip()] = int(idx)
        except ValueError:
            raise TemplateError(
                f"template field 'classes.mapping': invalid value {item.strip()!r}; "
                "the class after '=' is an integer index"
            ) from None
    return out


def _form_field(template_field: str) -> str:
    """Which form field shows an error about ``template_field``."""
    if template_field.startswith("split."):
        return template_field.split(".", 1)[1]
    if template_field == "split":
        return "test"
    if template_field in ("classes.names", "classes"):
        return "classes"
    if template_field == "classes.mapping":
        return "mapping"
    return template_field


def _message(exc: Exception) -> str:
    return str(exc).replace("template field ", "", 1)


def _check(errors: dict[str, str], fallback: str, fn: Any, *args: Any, **kwargs: Any) -> Any:
    try:
        return fn(*args, **kwargs)
    except (TemplateError, ValueError, TypeError) as exc:
        m = _FIELD_IN_MESSAGE.search(str(exc))
        name = _form_field(m.group(1)) if m else fallback
        errors.setdefault(name, _message(exc))
        return None


def validate_form(values: Mapping[str, Any]) -> FormResult:
    """Check every form value and build the template.

    Parameters
    ----------
    values : mapping
        Form field -> value (see :data:`FORM_FIELDS`); missing fields take the template's
        defaults. ``classes`` is a comma-separated list of names, ``mapping`` a
        ``VALUE=CLASS`` list, ``group_pattern`` may be empty.

    Returns
    -------
    FormResult
        With the template, or with one message per invalid field (nothing is written).
    """
    defaults = template_to_form(DatasetTemplate())
    v = {**defaults, **{k: values[k] for k in values if k in defaults}}
    errors: dict[str, str] = {}
    for name in ("width", "height", "image_type", "color_model", "layout", "mask_keyword", "fit"):
        _check(errors, name, DatasetTemplate, **{name: v[name]})
    names = parse_class_names(v["classes"])
    mapping = _check(errors, "mapping", parse_mapping, v["mapping"])
    classes = None
    if "mapping" not in errors:
        items = None if mapping is None else tuple(mapping.items())
        classes = _check(errors, "classes", ClassSpec, names=names, mapping=items)
    pattern = str(v["group_pattern"]).strip() or None
    split = _check(
        errors,
        "test",
        SplitSpec,
        train=v["train"],
        val=v["val"],
        test=v["test"],
        seed=v["seed"],
        group_pattern=pattern,
    )
    if not str(v["output"]).strip():
        errors["output"] = "output: give a file name for the template JSON, e.g. template.json"
    elif Path(str(v["output"])).expanduser().is_dir():
        errors["output"] = f"output: {v['output']} is a directory; give a file name"
    if errors:
        return FormResult(None, errors)
    kwargs = {k: v[k] for k in ("width", "height", "image_type", "color_model", "layout", "fit")}
    template = _check(
        errors,
        "output",
        DatasetTemplate,
        mask_keyword=v["mask_keyword"],
        classes=classes,
        split=split,
        **kwargs,
    )
    return FormResult(template, errors)


def generate_settings(values: Mapping[str, Any]) -> FormResult:
    """Validate the form and, when every field is valid, write the template JSON atomically.

    The file goes to ``values["output"]`` (relative paths are relative to the current
    directory). Nothing is written when any field is invalid.
    """
    result = validate_form(values)
    if not result.ok or result.template is None:
        return result
    path = Path(str(values.get("output", "template.json")).strip()).expanduser()
    try:
        written = save_template(result.template, path)
    except OSError as exc:
        return FormResult(None, {"output": f"output: cannot write {path} ({exc.strerror})"})
    return FormResult(result.template, {}, written)


# --- training monitor -------------------------------------------------------------------------


def update_history(
    history: dict[str, list[float]], logs: Mapping[str, Any] | None
) -> dict[str, list[float]]:
    """Append one epoch's Keras ``logs`` to ``history`` (in place) and return it.

    Non-numeric entries are ignored; a metric first seen late is padded with NaN so every
    list keeps one value per epoch.
    """
    epochs = max((len(v) for v in history.values()), default=0)
    for key, value in (logs or {}).items():
        try:
            number = float(value)
        except (TypeError, ValueError):
            continue
        series = history.setdefault(str(key), [float("nan")] * epochs)
        series.append(number)
    for series in history.values():
        while len(series) < epochs + 1:
            series.append(float("nan"))
    return history


def select_curves(
    history: Mapping[str, list[float]], names: tuple[str, ...] = ("loss", "dice")
) -> dict[str, list[float]]:
    """The curves of ``history`` whose name (without ``val_``) is one of ``names``."""
    return {
        k: list(v) for k, v in history.items() if (k[4:] if k.startswith("val_") else k) in names
    }


def progress_text(epoch: int, epochs: int | None, logs: Mapping[str, Any] | None) -> str:
    """``"epoch 3/10 - loss 0.412 - dice 0.731"`` (``epoch`` counts from 1)."""
    head = f"epoch {epoch}/{epochs}" if epochs else f"epoch {epoch}"
    parts = []
    for key, value in (logs or {}).items():
        try:
            parts.append(f"{key} {float(value):.4g}")
        except (TypeError, ValueError):
            continue
    return " - ".join([head, *parts])


def figure_png(fig: Any, *, dpi: int = 80) -> bytes:
    """PNG bytes of a matplotlib figure (for an ``ipywidgets.Image``)."""
    import io

    buf = io.BytesIO()
    fig.savefig(buf, format="png", dpi=dpi)
    return buf.getvalue()


# --- dataset browser --------------------------------------------------------------------------


@dataclass(frozen=True)
class BrowseItem:
    """One image/mask pair of a data set being browsed (absolute paths)."""

    name: str
    image: Path
    masks: tuple[Path, ...]
    split: str = ""


@dataclass(frozen=True)
class DatasetView:
    """A data set opened for browsing.

    Attributes
    ----------
    kind : {'prepared', 'source'}
    report : str
        The inspect report (source) or a summary of the manifest (prepared).
    items : tuple of BrowseItem
    manifest : Manifest or None
        For a prepared data set.
    """

    path: Path
    kind: str
    report: str
    items: tuple[BrowseItem, ...]
    manifest: Any = None


def _manifest_summary(manifest: Any) -> str:
    t = manifest.template
    counts = {part: len(manifest.split(part)) for part in ("train", "val", "test")}
    lines = [
        f"prepared data set: {manifest.root}",
        f"  pairs: {len(manifest.pairs)} (train {counts['train']}, val {counts['val']}, "
        f"test {counts['test']})",
        f"  template: {t.height}x{t.width} {t.image_type} {t.color_model}, layout {t.layout}, "
        f"fit {t.fit}, classes {', '.join(t.classes.names)}",
        f"  source: {manifest.source}",
        f"  fingerprint: {manifest.fingerprint}",
    ]
    if manifest.skipped:
        lines.append(f"  skipped: {len(manifest.skipped)} file(s)")
    return "\n".join(lines)


def open_dataset(path: str | Path, *, split: str | None = None) -> DatasetView:
    """Open a prepared data set (it has ``manifest.json``) or inspect a source data set.

    Parameters
    ----------
    path : path
    split : {'train', 'val', 'test'}, optional
        Only this part of a prepared data set.
    """
    root = Path(path).expanduser()
    if not root.is_dir():
        raise FileNotFoundError(f"{root}: no such folder")
    if (root / "manifest.json").is_file():
        from segkit.dataset import load_manifest

        manifest = load_manifest(root)
        pairs = manifest.split(split) if split else manifest.pairs
        prepared = tuple(
            BrowseItem(p.name, manifest.path(p.image), (manifest.path(p.mask),), p.split)
            for p in pairs
        )
        return DatasetView(root, "prepared", _manifest_summary(manifest), prepared, manifest)
    from segkit.dataset import discover_pairs, inspect_dataset

    found = discover_pairs(root)
    report = inspect_dataset(root, discovery=found)
    items = tuple(
        BrowseItem(p.name, found.root / p.image, tuple(found.root / m for m in p.masks))
        for p in found.pairs
    )
    return DatasetView(root, "source", report.format(), items)


def _labels_from_colours(mask: np.ndarray) -> np.ndarray:
    flat = mask[..., :3].reshape(-1, 3)
    colours, inverse = np.unique(flat, axis=0, return_inverse=True)
    labels = inverse.reshape(mask.shape[:2])
    black = np.flatnonzero((colours == 0).all(axis=1))
    if black.size:  # black is background: give it label 0
        b = int(black[0])
        labels = np.where(labels == b, 0, np.where(labels < b, labels + 1, labels))
    return labels.astype(np.int64)


def load_item(view: DatasetView, index: int) -> tuple[np.ndarray, np.ndarray]:
    """Image (uint8) and mask (class or instance labels) of item ``index`` of ``view``."""
    from segkit.imaging import read_image, to_uint8

    if not 0 <= index < len(view.items):
        raise IndexError(f"pair {index} out of range (the data set has {len(view.items)})")
    item = view.items[index]
    if view.manifest is not None:
        from segkit.dataset import load_pair

        pair = next(p for p in view.manifest.pairs if p.name == item.name)
        image, mask = load_pair(view.manifest, pair)
        return to_uint8(image), mask
    from segkit.dataset.masks import merge_masks, read_mask

    image = to_uint8(read_image(item.image))
    masks = [read_mask(m) for m in item.masks]
    mask = merge_masks(masks) if len(masks) > 1 else masks[0]
    if mask.ndim == 3:
        mask = _labels_from_colours(mask)
    return image, mask


def render_overlay(
    image: np.ndarray,
    mask: np.ndarray | None = None,
    prediction: np.ndarray | None = None,
    *,
    alpha: float = 0.4,
    contours: bool = False,
    max_side: int = 768,
) -> bytes:
    """PNG bytes of :func:`segkit.viz.blend_overlay`, shrunk so its longer side <= ``max_side``."""
    from segkit.imaging import encode_image
    from segkit.viz import blend_overlay

    rgb = blend_overlay(image, mask, prediction, alpha=alpha, contours=contours)
    step = max(1, int(np.ceil(max(rgb.shape[:2]) / max_side)))
    return encode_image(np.ascontiguousarray(rgb[::step, ::step]), ".png")


# --- prediction viewer ------------------------------------------------------------------------


def resolve_model(model: Any) -> tuple[Any, Any]:
    """``(keras.Model, ModelInfo)`` from a run or model folder, a ``.keras`` file, a
    :class:`segkit.runs.Run`, a ``(model, info)`` pair or a Keras model: see
    :func:`segkit.models.resolve_model`."""
    from segkit.models import resolve_model as resolve

    return resolve(model)


def decode_upload(value: Any) -> tuple[str, np.ndarray]:
    """Name and pixels of the first file of an ``ipywidgets.FileUpload`` value.

    Accepts the ipywidgets 8 form (a tuple of dicts with ``name`` and ``content``) and the
    ipywidgets 7 form (a dict of name to dict with ``content``).
    """
    from segkit.imaging import decode_image, to_uint8

    if isinstance(value, Mapping):
        value = [{"name": k, **v} for k, v in value.items()]
    files = list(value or ())
    if not files:
        raise ValueError("no file uploaded")
    first = files[0]
    name = str(first.get("name", "upload.png"))
    return name, to_uint8(decode_image(bytes(first["content"]), name))


def predict_mask(model: Any, info: Any, image: np.ndarray, *, tta: bool = False) -> np.ndarray:
    """Class-index mask of a raw image (:func:`segkit.inference.predict`, tiled as needed)."""
    from segkit.inference import predict

    return predict(model, image, info=info, tta=tta)
