"""Export a torch model to ONNX with its metadata, write it with its sha256 and check it against torch.

torch is imported only by the functions that need it: rewriting a shipped model's metadata
(:func:`update_metadata`) needs onnx alone.
"""

from __future__ import annotations

import hashlib
import io
import json
import warnings
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np
import onnx

if TYPE_CHECKING:
    import torch

MODELS_DIR = Path(__file__).resolve().parent.parent / "ml" / "models"


def export_onnx(
    model: torch.nn.Module,
    example: torch.Tensor | tuple[torch.Tensor, ...],
    name: str,
    output_names: list[str],
    metadata: dict[str, Any],
    dynamic: dict[str, dict[int, str]],
    out_dir: Path = MODELS_DIR,
    input_names: tuple[str, ...] = ("input",),
) -> tuple[Path, str]:
    """Export ``model`` as ``out_dir/name.onnx`` (metadata values JSON-encoded) and ``name.sha256``; return (path, sha256)."""
    proto = onnx_proto(model, example, output_names, dynamic, input_names)
    for key, value in sorted(metadata.items()):
        entry = proto.metadata_props.add()
        entry.key, entry.value = key, value if isinstance(value, str) else json.dumps(value)
    proto.producer_name = "avqa.detectors.training"
    return _write(proto, name, out_dir)


def onnx_proto(
    model: torch.nn.Module,
    example: torch.Tensor | tuple[torch.Tensor, ...],
    output_names: list[str],
    dynamic: dict[str, dict[int, str]],
    input_names: tuple[str, ...] = ("input",),
) -> onnx.ModelProto:
    """Put ``model`` in eval mode (it is left so) and return its ONNX graph (opset 17, constants folded: a BatchNorm
    joins its convolution)."""
    import torch

    model.eval()
    buf = io.BytesIO()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        torch.onnx.export(
            model,
            example if isinstance(example, tuple) else (example,),
            buf,
            dynamo=False,
            input_names=list(input_names),
            output_names=output_names,
            dynamic_axes=dynamic,
            opset_version=17,
            do_constant_folding=True,
        )
    return onnx.load_from_string(buf.getvalue())


def _write(proto: onnx.ModelProto, name: str, out_dir: Path) -> tuple[Path, str]:
    from detectors.ml import forget

    onnx.checker.check_model(proto)
    data = proto.SerializeToString()
    out_dir.mkdir(parents=True, exist_ok=True)
    path = out_dir / f"{name}.onnx"
    path.write_bytes(data)
    digest = hashlib.sha256(data).hexdigest()
    (out_dir / f"{name}.sha256").write_text(f"{digest}  {name}.onnx\n")
    forget(name)  # a session cached in this process would still run the old file
    return path, digest


def update_metadata(name: str, updates: dict[str, Any], out_dir: Path = MODELS_DIR) -> tuple[Path, str]:
    """Set metadata entries (JSON-encoded unless str) of the exported model ``name``; rewrite its sha256."""
    path = out_dir / f"{name}.onnx"
    proto = onnx.load(str(path))
    kept = [(e.key, e.value) for e in proto.metadata_props if e.key not in updates]
    del proto.metadata_props[:]
    for key, value in [*kept, *sorted((k, v if isinstance(v, str) else json.dumps(v)) for k, v in updates.items())]:
        entry = proto.metadata_props.add()
        entry.key, entry.value = key, value
    return _write(proto, name, out_dir)


def max_abs_diff_vs_onnx(model: torch.nn.Module, path: Path, x: np.ndarray | tuple[np.ndarray, ...]) -> float:
    """Return the largest absolute difference between torch and onnxruntime outputs on ``x`` (one array per input)."""
    import onnxruntime as ort
    import torch

    xs = x if isinstance(x, tuple) else (x,)
    model.eval()
    with torch.no_grad():
        ref = model(*(torch.from_numpy(a) for a in xs))
    refs = [ref] if isinstance(ref, torch.Tensor) else list(ref)
    sess = ort.InferenceSession(str(path), providers=["CPUExecutionProvider"])
    outs = sess.run(None, {i.name: a for i, a in zip(sess.get_inputs(), xs, strict=True)})
    return max(float(np.abs(r.numpy() - o).max()) for r, o in zip(refs, outs, strict=True))
