"""The dataset template: what a prepared data set looks like, as one JSON file.

A template fixes the image size, file type, colour model, directory layout, mask keyword,
how source images are fitted to the size, the classes and the train/val/test split.
It reads and writes plain JSON (schema version 1) and also reads the JSON of the
"Dataset Parameters Configuration" web form of the original paper, where numbers are
strings and choices are 1-based indices.

- :mod:`segkit.template.spec`: the fields and their validation.
- :mod:`segkit.template.reading`: dicts and files in and out.
- :mod:`segkit.template.paper_form`: the paper's form JSON.
"""

from segkit.template.reading import (
    load_template,
    parse_template,
    save_template,
    template_from_paper,
)
from segkit.template.spec import (
    COLOR_MODELS,
    FIT_MODES,
    IMAGE_TYPES,
    LAYOUTS,
    SCHEMA_VERSION,
    TARGETS,
    ClassSpec,
    DatasetTemplate,
    SplitSpec,
    TemplateError,
)

__all__ = [
    "IMAGE_TYPES",
    "COLOR_MODELS",
    "LAYOUTS",
    "FIT_MODES",
    "TARGETS",
    "SCHEMA_VERSION",
    "TemplateError",
    "ClassSpec",
    "SplitSpec",
    "DatasetTemplate",
    "load_template",
    "save_template",
    "template_from_paper",
    "parse_template",
]
