"""ONNX models shipped with avqa and the onnxruntime sessions that run them.

Models live in ``detectors/ml/models/NAME.onnx`` (package data, found through
:mod:`importlib.resources`, never relative to the working directory), each with its sha256
in ``NAME.sha256``; class labels and preprocessing constants travel in the ONNX metadata.
onnxruntime is imported lazily, on the first session asked for, so that importing the
detectors stays cheap and works without the ``ml`` extra; one session is cached per
(model, thread count). torch is never imported here: it belongs to ``detectors.training``.
"""

from __future__ import annotations

import hashlib
import json
import threading
from dataclasses import dataclass
from importlib import resources
from typing import Any

__all__ = ["MLUnavailableError", "ModelError", "ModelSession", "forget", "model_bytes", "session"]

_lock = threading.Lock()
_sessions: dict[tuple[str, int], ModelSession] = {}


class MLUnavailableError(ImportError):
    """onnxruntime is not installed; the message says which extra brings it."""


class ModelError(RuntimeError):
    """A shipped model is missing, corrupted (sha256 mismatch) or malformed; the message names it."""


@dataclass(frozen=True)
class ModelSession:
    """A loaded model: the onnxruntime session, its input/output names and its metadata."""

    name: str
    session: Any
    input_name: str
    output_names: tuple[str, ...]
    metadata: dict[str, str]
    input_names: tuple[str, ...] = ()

    @property
    def labels(self) -> tuple[str, ...]:
        """The class labels stored in the model metadata (``labels``: JSON list)."""
        return tuple(json.loads(self.metadata.get("labels", "[]")))

    def meta_json(self, key: str) -> Any:
        """Return metadata entry ``key`` parsed as JSON (KeyError naming the model if absent)."""
        if key not in self.metadata:
            raise KeyError(f"model {self.name!r} has no metadata {key!r} (has: {', '.join(sorted(self.metadata))})")
        return json.loads(self.metadata[key])

    def run(self, *inputs: Any) -> list[Any]:
        """Run the model on its input arrays (in ``input_names`` order); return the outputs in ``output_names`` order."""
        names = self.input_names or (self.input_name,)
        if len(inputs) != len(names):
            raise ValueError(f"model {self.name!r} takes {len(names)} inputs ({', '.join(names)}), got {len(inputs)}")
        return self.session.run(list(self.output_names), dict(zip(names, inputs, strict=True)))  # type: ignore[no-any-return]


def _models() -> Any:
    return resources.files("detectors.ml").joinpath("models")


def model_bytes(name: str, verify: bool = True) -> bytes:
    """Return the bytes of shipped model ``name``, checked against its recorded sha256.

    Raises:
        ModelError: the model or its ``.sha256`` file is missing, or the digest differs.
    """
    folder = _models()
    onnx_file, sha_file = folder.joinpath(f"{name}.onnx"), folder.joinpath(f"{name}.sha256")
    try:
        data = onnx_file.read_bytes()
    except (FileNotFoundError, OSError) as e:
        raise ModelError(
            f"model {name!r}: {onnx_file} not found in the avqa package (expected detectors/ml/models/{name}.onnx)"
        ) from e
    if verify:
        try:
            expected = sha_file.read_text().split()[0].strip().lower()
        except (FileNotFoundError, OSError, IndexError) as e:
            raise ModelError(f"model {name!r}: {sha_file} missing or empty (expected the sha256 of {name}.onnx)") from e
        actual = hashlib.sha256(data).hexdigest()
        if actual != expected:
            raise ModelError(
                f"model {name!r}: sha256 {actual} does not match {expected} recorded in {name}.sha256 (reinstall avqa)"
            )
    return data


def _ort() -> Any:
    try:
        import onnxruntime
    except ImportError as e:
        raise MLUnavailableError(
            "the learned detectors need onnxruntime: install avqa with the 'ml' extra (pip install 'avqa[ml]')"
        ) from e
    return onnxruntime


def session(name: str, threads: int = 1) -> ModelSession:
    """Return the cached onnxruntime session of shipped model ``name`` using ``threads`` intra-op threads.

    Raises:
        MLUnavailableError: onnxruntime is not installed.
        ModelError: the model is missing or corrupted.
    """
    if threads < 1:
        raise ValueError(f"threads must be >= 1, got {threads}")
    key = (name, threads)
    with _lock:
        cached = _sessions.get(key)
        if cached is not None:
            return cached
        ort = _ort()
        data = model_bytes(name)
        options = ort.SessionOptions()
        options.intra_op_num_threads = threads
        options.inter_op_num_threads = 1
        options.log_severity_level = 3
        try:
            sess = ort.InferenceSession(data, sess_options=options, providers=["CPUExecutionProvider"])
        except Exception as e:  # onnxruntime raises its own exception types
            raise ModelError(f"model {name!r}: onnxruntime cannot load it: {e}") from e
        meta = dict(sess.get_modelmeta().custom_metadata_map)
        loaded = ModelSession(
            name=name,
            session=sess,
            input_name=sess.get_inputs()[0].name,
            output_names=tuple(o.name for o in sess.get_outputs()),
            metadata=meta,
            input_names=tuple(i.name for i in sess.get_inputs()),
        )
        _sessions[key] = loaded
        return loaded


def forget(name: str) -> None:
    """Drop the cached sessions of model ``name`` (after its file was rewritten, e.g. by training)."""
    with _lock:
        for key in [k for k in _sessions if k[0] == name]:
            del _sessions[key]
