"""What the widgets do, as plain functions (no ipywidgets here, so it is unit-tested directly).

One module per widget: :mod:`.template_form`, :mod:`.training_monitor`,
:mod:`.dataset_browser`, :mod:`.prediction_viewer`.
"""

from segkit.widgets.logic.dataset_browser import (
    BrowseItem,
    DatasetView,
    load_item,
    open_dataset,
    render_overlay,
)
from segkit.widgets.logic.prediction_viewer import decode_upload, predict_mask, resolve_model
from segkit.widgets.logic.template_form import (
    COLOR_MODEL_CHOICES,
    FIT_CHOICES,
    FORM_FIELDS,
    IMAGE_TYPE_CHOICES,
    LAYOUT_CHOICES,
    FormResult,
    generate_settings,
    parse_class_names,
    parse_mapping,
    template_to_form,
    validate_form,
)
from segkit.widgets.logic.training_monitor import (
    figure_png,
    progress_text,
    select_curves,
    update_history,
)

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
