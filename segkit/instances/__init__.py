"""Separate nuclei: boundary-aware training targets, watershed post-processing, prediction."""

from segkit.instances.postprocess import (
    DEFAULT_H,
    DEFAULT_MIN_AREA,
    DEFAULT_MIN_AREA_UM2,
    connected_components,
    labels_from_mask,
    labels_from_probabilities,
    min_area_pixels,
    relabel,
)
from segkit.instances.predict import (
    INSTANCES_SUFFIX,
    InstancePrediction,
    instances_path,
    nucleus_classes,
    predict_instance_map,
    predict_instances,
    save_instances,
)
from segkit.instances.targets import (
    BACKGROUND,
    BOUNDARY,
    BOUNDARY_CLASS_NAMES,
    INTERIOR,
    make_boundary_target,
    make_distance_target,
)

__all__ = [
    "make_boundary_target",
    "make_distance_target",
    "BACKGROUND",
    "INTERIOR",
    "BOUNDARY",
    "BOUNDARY_CLASS_NAMES",
    "labels_from_probabilities",
    "labels_from_mask",
    "connected_components",
    "relabel",
    "DEFAULT_MIN_AREA",
    "DEFAULT_MIN_AREA_UM2",
    "min_area_pixels",
    "DEFAULT_H",
    "predict_instances",
    "predict_instance_map",
    "InstancePrediction",
    "nucleus_classes",
    "save_instances",
    "instances_path",
    "INSTANCES_SUFFIX",
]
