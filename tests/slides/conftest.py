"""Small generated slides shared by the slide tests (written once per session)."""

from __future__ import annotations

from pathlib import Path

import pytest

SIZE = (1500, 1100)  # not a multiple of the tile: edge tiles and odd halves are exercised


@pytest.fixture(scope="session")
def slide_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("slides")


@pytest.fixture(scope="session")
def lossless_slides(slide_dir: Path) -> dict:
    """``{kind: SyntheticSlide}``: the same zlib slide as OME-TIFF and as generic tiled TIFF."""
    from segkit.slides import make_synthetic_slide

    return {
        kind: make_synthetic_slide(
            slide_dir / f"lossless_{kind}{'.ome' if kind == 'ome' else ''}.tif",
            size=SIZE,
            tissue_fraction=0.35,
            kind=kind,
            tile=256,
            levels=3,
            seed=3,
            compression="zlib",
        )
        for kind in ("ome", "tiff")
    }
