"""``segkit export``: a model as one ONNX file for tools outside Python and Keras."""

from __future__ import annotations

import argparse
from typing import Any

__all__ = ["register", "run"]


def register(sub: Any) -> None:
    p = sub.add_parser(
        "export",
        help="write a model as an ONNX file (with its info beside it) for ONNX Runtime, OpenCV",
        description=(
            "Writes OUTPUT.onnx (input 'image': float32 NHWC raw pixels 0..255; output "
            "'probabilities': float32 NHWC) and OUTPUT.json (the model's info: classes, mpp, "
            "threshold, stain normalisation), and checks the graph against the model with "
            "ONNX Runtime. Needs the onnx extra: pip install 'segkit[onnx]'."
        ),
    )
    p.add_argument(
        "model", help="a run folder, a model folder, a .keras file or segkit:nuclei (bundled)"
    )
    p.add_argument("output", metavar="OUTPUT.onnx", help="the ONNX file to write")
    p.add_argument("--opset", type=int, help="ONNX opset (default: the converter's)")
    p.add_argument(
        "--no-verify",
        action="store_true",
        help="do not run the graph beside the model to check it",
    )
    p.add_argument(
        "--tolerance",
        type=float,
        default=1e-3,
        help="largest accepted difference of probabilities (default 1e-3)",
    )
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    """Export ``args.model`` to ``args.output``; 0 on success."""
    from segkit.models.export import export_onnx

    result = export_onnx(
        args.model,
        args.output,
        opset=args.opset,
        verify=not args.no_verify,
        tolerance=args.tolerance,
    )
    size = result.path.stat().st_size / 1e6
    print(f"wrote {result.path} ({size:.1f} MB) and {result.info_path}")
    shape = "x".join(str(s) for s in result.check_shape)
    if result.max_abs_difference is not None:
        print(
            f"checked: ONNX Runtime and Keras agree within {result.max_abs_difference:.1g} "
            f"on a {shape} image"
        )
    elif not args.no_verify:
        print("not checked: onnxruntime is not installed (pip install onnxruntime)")
    inp, out = result.interface["input"], result.interface["output"]
    outside = result.interface["not_in_graph"]
    print(
        f"input '{inp['name']}': float32 NHWC, {inp['channels']} channel(s) of raw pixel values "
        f"0..255, height and width multiples of {inp['size_multiple']}"
    )
    print(f"output '{out['name']}': {out['activation']} of {', '.join(out['class_names'])}")
    todo = []
    if outside["stain_normalisation"] != "none":
        todo.append(
            f"{outside['stain_normalisation']} stain normalisation (parameters in the .json)"
        )
    if outside["mpp"]:
        todo.append(f"resampling to {outside['mpp']:g} µm/px")
    todo.append(f"the threshold {outside['threshold']:g}")
    if outside["target"] == "instances":
        todo.append("the watershed that separates nuclei")
    print("outside the graph: " + "; ".join(todo))
    return 0
