"""The template's fields: :class:`DatasetTemplate` with its :class:`ClassSpec` and
:class:`SplitSpec`, validated on construction, with their JSON dictionaries (schema version 1).
"""

from __future__ import annotations

import json
import re
from collections.abc import Mapping
from dataclasses import asdict, dataclass, field, fields, replace
from typing import Any

from segkit.validation import FieldChecker, is_int

__all__ = [
    "IMAGE_TYPES",
    "COLOR_MODELS",
    "LAYOUTS",
    "FIT_MODES",
    "TARGETS",
    "BOUNDARY_NAME",
    "instance_class_names",
    "output_class_names",
    "SCHEMA_VERSION",
    "TemplateError",
    "ClassSpec",
    "SplitSpec",
    "DatasetTemplate",
]

SCHEMA_VERSION = 1
IMAGE_TYPES = ("png", "jpg", "bmp", "tif")
COLOR_MODELS = ("rgb", "grayscale", "binary")
LAYOUTS = ("separate", "suffix")
FIT_MODES = ("stretch", "pad", "crop", "tile")
TARGETS = ("semantic", "instances")
#: The last output class of every model trained on instances (``target="instances"``).
BOUNDARY_NAME = "boundary"
MIN_SIZE, MAX_SIZE = 16, 16384
MAX_MPP = 1000.0  # µm per pixel; above it a value is a mistake (as in segkit.slides.mpp)

_EXTENSION_ALIASES = {"jpeg": "jpg", "tiff": "tif", "gray": "grayscale", "grey": "grayscale"}
_HEX_COLOUR = re.compile(r"^#[0-9a-fA-F]{6}$")


def instance_class_names(class_names: tuple[str, ...]) -> tuple[str, ...]:
    """The output classes of an instance model: the data set's classes, then ``boundary``.

    ``("background", "nucleus")`` gives ``("background", "nucleus", "boundary")``;
    ``("background", "negative", "positive")`` gives four classes. Every class between the
    background and the boundary is an interior class.
    """
    return (*tuple(class_names), BOUNDARY_NAME)


def output_class_names(template: Any) -> tuple[str, ...]:
    """The classes a model trained on data prepared with ``template`` predicts.

    The template's class names; for ``template.target == "instances"`` followed by
    ``boundary`` (:func:`instance_class_names`).
    """
    names = tuple(template.classes.names)
    if getattr(template, "target", "semantic") == "instances":
        return instance_class_names(names)
    return names


class TemplateError(ValueError):
    """An invalid template value; the message names the field, the value and what is allowed."""


_check = FieldChecker("template field", TemplateError)
_bad = _check.bad


def _norm_choice(field_name: str, value: Any, choices: tuple[str, ...]) -> str:
    if not isinstance(value, str):
        raise _bad(field_name, value, f"expected one of {', '.join(choices)}")
    v = value.strip().lower().lstrip(".")
    v = _EXTENSION_ALIASES.get(v, v)
    if v not in choices:
        raise _bad(field_name, value, f"expected one of {', '.join(choices)}")
    return v


def parse_mask_value(key: str | int | list[int] | tuple[int, ...]) -> int | tuple[int, int, int]:
    """Parse a source mask value: an integer (``"255"``, ``3``) or an RGB colour
    (``"#ff0000"``, ``"255,0,0"``, ``[255, 0, 0]``).
    """
    if isinstance(key, bool):
        raise _bad("classes.mapping", key, "keys are integers or RGB colours")
    if isinstance(key, int):
        if key < 0:
            raise _bad("classes.mapping", key, "mask values are non-negative")
        return key
    if isinstance(key, list | tuple):
        parts = [int(p) for p in key]
    else:
        s = str(key).strip()
        if _HEX_COLOUR.match(s):
            return (int(s[1:3], 16), int(s[3:5], 16), int(s[5:7], 16))
        try:
            parts = [int(p) for p in s.split(",")]
        except ValueError:
            raise _bad(
                "classes.mapping", key, 'keys are integers ("255") or RGB colours ("#ff0000")'
            ) from None
    if len(parts) == 1:
        if parts[0] < 0:
            raise _bad("classes.mapping", key, "mask values are non-negative")
        return parts[0]
    if len(parts) == 3 and all(0 <= p <= 255 for p in parts):
        return (parts[0], parts[1], parts[2])
    raise _bad("classes.mapping", key, 'keys are integers ("255") or RGB colours ("#ff0000")')


def format_mask_value(value: int | tuple[int, int, int]) -> str:
    """Inverse of :func:`parse_mask_value`: ``255 -> "255"``, ``(255, 0, 0) -> "#ff0000"``."""
    if isinstance(value, tuple):
        return "#{:02x}{:02x}{:02x}".format(*value)
    return str(value)


@dataclass(frozen=True)
class ClassSpec:
    """Which classes the masks hold and how source mask values map to them.

    Parameters
    ----------
    names : tuple of str
        Class names; index 0 is the background. Two names (the default) mean a binary task.
    mapping : tuple of (value, class index) pairs, optional
        Source mask value (integer or RGB colour) to class index. Values not listed map to
        class 0. When ``None`` (binary only): every non-zero value is foreground, which covers
        {0,1}, {0,255} and instance-label masks. For ISBI 2012, where 0 marks the membrane,
        use ``{"0": 1}``.
    """

    names: tuple[str, ...] = ("background", "foreground")
    mapping: tuple[tuple[int | tuple[int, int, int], int], ...] | None = None

    def __post_init__(self) -> None:
        names = tuple(self.names)
        object.__setattr__(self, "names", names)
        if len(names) < 2 or len(names) > 255:
            raise _bad("classes.names", list(names), "give between 2 and 255 class names")
        if len(set(names)) != len(names) or not all(isinstance(n, str) and n for n in names):
            raise _bad("classes.names", list(names), "class names are distinct non-empty strings")
        if self.mapping is not None:
            parsed = []
            items: Any = self.mapping
            if isinstance(items, Mapping):
                items = list(items.items())
            for key, idx in items:
                value = parse_mask_value(key)
                if not is_int(idx) or not 0 <= idx < len(names):
                    raise _bad(
                        "classes.mapping",
                        {format_mask_value(value): idx},
                        f"class indices run from 0 to {len(names) - 1}",
                    )
                parsed.append((value, idx))
            keys = [k for k, _ in parsed]
            if len(set(keys)) != len(keys):
                raise _bad("classes.mapping", self.mapping, "each source value appears once")
            object.__setattr__(self, "mapping", tuple(parsed))
        elif len(names) > 2:
            raise _bad(
                "classes.mapping",
                None,
                "a multi-class template needs a mapping from source mask values to class indices",
            )

    @property
    def num_classes(self) -> int:
        """Number of classes, background included."""
        return len(self.names)

    @property
    def is_binary(self) -> bool:
        return len(self.names) == 2

    @property
    def uses_colours(self) -> bool:
        return self.mapping is not None and any(isinstance(k, tuple) for k, _ in self.mapping)

    def to_dict(self) -> dict[str, Any]:
        mapping = (
            None if self.mapping is None else {format_mask_value(k): v for k, v in self.mapping}
        )
        return {"names": list(self.names), "mapping": mapping}


@dataclass(frozen=True)
class SplitSpec:
    """How pairs are divided into train, val and test.

    Each pair (or each group, when ``group_pattern`` is given) is assigned by a hash of
    ``seed`` and its name, so the split is the same on every machine and adding new
    files never moves the ones already assigned.

    Parameters
    ----------
    train, val, test : float
        Fractions in [0, 1] that sum to 1.
    seed : int
        Changes the assignment.
    group_pattern : str, optional
        Regular expression applied to the image's relative path; its first capture group (or
        whole match) is the group id (slide, patient). One group never spans two parts.
    """

    train: float = 0.8
    val: float = 0.1
    test: float = 0.1
    seed: int = 0
    group_pattern: str | None = None

    def __post_init__(self) -> None:
        for name in ("train", "val", "test"):
            v = getattr(self, name)
            fraction = "a fraction between 0 and 1"
            v = _check.check_float(f"split.{name}", v, minimum=0, maximum=1, expected=fraction)
            object.__setattr__(self, name, v)
        total = self.train + self.val + self.test
        if abs(total - 1.0) > 1e-6:
            raise _bad(
                "split",
                {"train": self.train, "val": self.val, "test": self.test},
                f"the fractions must sum to 1 (they sum to {total:g})",
            )
        _check.check_int("split.seed", self.seed)
        if self.group_pattern is not None:
            if not isinstance(self.group_pattern, str) or not self.group_pattern:
                raise _bad("split.group_pattern", self.group_pattern, "a regular expression")
            try:
                re.compile(self.group_pattern)
            except re.error as exc:
                raise _bad(
                    "split.group_pattern",
                    self.group_pattern,
                    f"a valid regular expression ({exc})",
                ) from None

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


@dataclass(frozen=True)
class DatasetTemplate:
    """The shape every image and mask of a prepared data set has.

    Parameters
    ----------
    height, width : int
        Output size in pixels, 16 to 16384.
    image_type : {'png', 'jpg', 'bmp', 'tif'}
        File type of the output images. Masks are always lossless PNG.
    color_model : {'rgb', 'grayscale', 'binary'}
        Colour model of the output images (``binary``: grayscale thresholded by Otsu's method).
    layout : {'separate', 'suffix'}
        ``separate``: ``PART/images/NAME.EXT`` and ``PART/masks/NAME.png``;
        ``suffix``: ``PART/NAME.EXT`` and ``PART/NAME<mask_keyword>.png``.
    mask_keyword : str
        Marks a mask file in the ``suffix`` layout (and is recognised in sources).
    fit : {'stretch', 'pad', 'crop', 'tile'}
        How a source of another size is fitted: resize ignoring aspect, resize keeping aspect and
        pad, resize keeping aspect and centre-crop, or cut into tiles of the template size with no
        rescaling (the last tile row/column is padded).
    classes : ClassSpec
    split : SplitSpec
    target : {'semantic', 'instances'}
        What the data set trains: ``semantic`` a class per pixel; ``instances`` separated
        objects (nuclei): the prepared set keeps an instance label image per pair and training
        derives a boundary-aware target from it (:mod:`segkit.instances.targets`).
    mpp : float, optional
        Microns per pixel of the prepared images. Each source is first rescaled by
        ``source mpp / mpp`` (its mpp from slide metadata, an Aperio XML's
        ``MicronsPerPixel`` or ``SourceLayout.mpp``; a source without one is refused), then
        cut into tiles: it goes with ``fit="tile"`` only. None (default): no physical scale,
        sources are fitted in pixels.
    """

    height: int = 256
    width: int = 256
    image_type: str = "png"
    color_model: str = "rgb"
    layout: str = "separate"
    mask_keyword: str = "_mask"
    fit: str = "stretch"
    classes: ClassSpec = field(default_factory=ClassSpec)
    split: SplitSpec = field(default_factory=SplitSpec)
    target: str = "semantic"
    mpp: float | None = None
    schema_version: int = SCHEMA_VERSION

    def __post_init__(self) -> None:
        for name in ("height", "width"):
            v = getattr(self, name)
            if isinstance(v, str) and v.strip().isdigit():
                v = int(v.strip())
            if not is_int(v) or not MIN_SIZE <= v <= MAX_SIZE:
                raise _bad(name, getattr(self, name), f"an integer from {MIN_SIZE} to {MAX_SIZE}")
            object.__setattr__(self, name, v)
        for name, choices in (("image_type", IMAGE_TYPES), ("color_model", COLOR_MODELS),
                              ("layout", LAYOUTS), ("fit", FIT_MODES),
                              ("target", TARGETS)):  # fmt: skip
            object.__setattr__(self, name, _norm_choice(name, getattr(self, name), choices))
        kw = self.mask_keyword
        if not isinstance(kw, str) or not kw or kw.strip() != kw:
            raise _bad("mask_keyword", kw, "a non-empty keyword without surrounding spaces")
        if "/" in kw or "\\" in kw or kw in (".", ".."):
            raise _bad("mask_keyword", kw, "a keyword without path separators, e.g. '_mask'")
        if "." in kw:
            raise _bad("mask_keyword", kw, "a keyword without dots, e.g. '_mask'")
        if not kw.isprintable():
            raise _bad("mask_keyword", kw, "printable characters only (no NUL or control codes)")
        if isinstance(self.classes, Mapping):
            object.__setattr__(self, "classes", _classes_from_dict(self.classes))
        if isinstance(self.split, Mapping):
            object.__setattr__(self, "split", _split_from_dict(self.split))
        if not isinstance(self.classes, ClassSpec):
            raise _bad("classes", self.classes, "an object with 'names' and 'mapping'")
        if not isinstance(self.split, SplitSpec):
            raise _bad("split", self.split, "an object with train/val/test fractions")
        if self.mpp is not None:
            expected = f"microns per pixel, > 0 and at most {MAX_MPP:g} (0.5 for 20x, 0.25 for 40x)"
            mpp = _check.check_float(
                "mpp", self.mpp, minimum=0.0, maximum=MAX_MPP, exclusive_minimum=True,
                expected=expected,
            )  # fmt: skip
            if self.fit != "tile":
                raise _bad(
                    "fit", self.fit, "'tile', which an mpp needs (stretch, pad and crop resize "
                    "every image to the template size, whatever its scale)",
                )  # fmt: skip
            object.__setattr__(self, "mpp", mpp)
        if self.schema_version != SCHEMA_VERSION:
            raise _bad(
                "schema_version",
                self.schema_version,
                f"this segkit reads schema version {SCHEMA_VERSION}",
            )

    @property
    def size(self) -> tuple[int, int]:
        """``(height, width)``."""
        return (self.height, self.width)

    @property
    def channels(self) -> int:
        """Channels of a prepared image: 3 for RGB, 1 otherwise."""
        return 3 if self.color_model == "rgb" else 1

    @property
    def num_classes(self) -> int:
        return self.classes.num_classes

    def to_dict(self) -> dict[str, Any]:
        """Plain JSON-ready dict (the schema written by :func:`save_template`)."""
        return {
            "schema_version": self.schema_version,
            "height": self.height,
            "width": self.width,
            "image_type": self.image_type,
            "color_model": self.color_model,
            "layout": self.layout,
            "mask_keyword": self.mask_keyword,
            "fit": self.fit,
            "classes": self.classes.to_dict(),
            "split": self.split.to_dict(),
            "target": self.target,
            # only when set: templates without a physical scale keep their fingerprints
            **({} if self.mpp is None else {"mpp": self.mpp}),
        }

    def to_json(self, *, indent: int = 2) -> str:
        return json.dumps(self.to_dict(), indent=indent, sort_keys=False) + "\n"

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> DatasetTemplate:
        """Build from a dict in segkit's schema or in the paper's form schema."""
        from segkit.template.reading import parse_template

        return parse_template(data)

    @classmethod
    def from_json(cls, text: str) -> DatasetTemplate:
        """Build from JSON text (see :meth:`from_dict`)."""
        from segkit.template.reading import parse_template

        return parse_template(json.loads(text))

    def replace(self, **changes: Any) -> DatasetTemplate:
        """A copy with some fields changed (validated again)."""
        return replace(self, **changes)

    def mask_name(self, stem: str) -> str:
        """File name of the mask for image ``stem`` in this layout."""
        return f"{stem}{self.mask_keyword}.png" if self.layout == "suffix" else f"{stem}.png"

    def image_name(self, stem: str) -> str:
        return f"{stem}.{self.image_type}"


def _classes_from_dict(data: Mapping[str, Any]) -> ClassSpec:
    unknown = set(data) - {"names", "mapping"}
    if unknown:
        raise _bad("classes", sorted(unknown)[0], "known keys are 'names' and 'mapping'")
    names = data.get("names", ("background", "foreground"))
    if isinstance(names, str) or not isinstance(names, list | tuple):
        raise _bad("classes.names", names, "a list of class names")
    mapping = data.get("mapping")
    if mapping is not None and not isinstance(mapping, Mapping):
        raise _bad("classes.mapping", mapping, 'an object such as {"255": 1}')
    return ClassSpec(
        names=tuple(names), mapping=None if mapping is None else tuple(mapping.items())
    )


def _split_from_dict(data: Mapping[str, Any]) -> SplitSpec:
    known = {f.name for f in fields(SplitSpec)}
    unknown = set(data) - known
    if unknown:
        raise _bad("split", sorted(unknown)[0], f"known keys are {', '.join(sorted(known))}")
    return SplitSpec(**dict(data))


def _int_field(name: str, value: Any) -> int:
    if isinstance(value, bool):
        raise _bad(name, value, "an integer")
    if isinstance(value, int):
        return value
    try:
        return int(str(value).strip())
    except ValueError:
        raise _bad(name, value, f"an integer from {MIN_SIZE} to {MAX_SIZE}") from None
