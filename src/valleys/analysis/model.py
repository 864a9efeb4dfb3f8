"""Build a user's model from a factory spec and load its weights without unpickling code.

- ``load_factory("pkg.module:make_model")`` or ``load_factory("path/to/file.py:make")``
  imports the module (the user's own code, which they asked to run) and calls the factory.
- ``load_weights(model, "ckpt.pt")`` reads a state dict with
  ``torch.load(weights_only=True)`` (tensors and plain containers only: a checkpoint that
  needs arbitrary unpickling is refused, with the reason) or from ``.safetensors``, and
  checks every key and shape against the model before copying anything.
- ``load_exported("model.pt2")`` loads a ``torch.export`` archive, which carries its
  architecture and needs no code, after checking that nothing in it would be unpickled
  or executed (:mod:`valleys.analysis.archive`).
"""

from __future__ import annotations

import hashlib
import importlib
import importlib.util
import io
import os
import sys
import zipfile
from collections.abc import Mapping
from pathlib import Path

import torch
from torch import nn

from ..errors import DataError, ModelError
from .archive import check_export_archive, check_zip_crcs

#: Keys under which training scripts commonly nest the state dict of a checkpoint.
NESTED_STATE_KEYS = ("state_dict", "model_state_dict", "model")
#: How a legacy (non-zip) ``torch.save`` file starts: a pickle (protocol >= 2) of torch's
#: magic number 0x1950a86a20f9469cfc6c, whose pickled bytes appear within the first 32 bytes.
PICKLE_PROTO, LEGACY_MAGIC = b"\x80", b"\x8a\nl\xfc\x9cF\xf9 j\xa8P\x19"


def load_factory(spec: str, **kwargs) -> nn.Module:
    """Import ``module:function`` (or ``file.py:function``) and return ``function(**kwargs)``.

    Args:
        spec: ``"pkg.module:factory"`` (importable from the current directory or the
            Python path) or ``"path/to/file.py:factory"``.
        **kwargs: keyword arguments of the factory.

    Returns:
        The model the factory returns (an ``nn.Module``).

    Raises:
        ModelError: the spec is malformed, the module or the function does not exist, the
            factory raises, or it does not return an ``nn.Module``.
    """
    if not isinstance(spec, str) or spec.count(":") != 1 or not all(spec.split(":")):
        msg = (f"A model spec is 'package.module:factory' or 'path/to/file.py:factory'. "
               f"Got {spec!r}.")
        raise ModelError(msg)
    where, name = spec.split(":")
    module = _import(where)
    factory = getattr(module, name, None)
    if not callable(factory):
        public = sorted(n for n in vars(module) if not n.startswith("_") and callable(getattr(module, n)))
        msg = (f"Module {where!r} has no callable {name!r}. Its callables: "
               f"{', '.join(public[:10]) or 'none'}.")
        raise ModelError(msg)
    try:
        model = factory(**kwargs)
    except (Exception, SystemExit) as exc:  # the user's factory: its error in one line
        raise ModelError(_raised(f"The model factory {spec!r}", exc)) from exc
    if not isinstance(model, nn.Module):
        msg = f"The model factory {spec!r} must return a torch nn.Module. Got {type(model).__name__}."
        raise ModelError(msg)
    return model


def _import(where: str):
    if where.endswith(".py"):
        path = Path(where)
        if not path.is_file():
            msg = f"Model file {where!r} does not exist."
            raise ModelError(msg)
        name = f"valleys_user_model_{hashlib.sha256(str(path.resolve()).encode()).hexdigest()[:12]}"
        spec = importlib.util.spec_from_file_location(name, path)
        module = importlib.util.module_from_spec(spec)
        try:
            spec.loader.exec_module(module)
        except (Exception, SystemExit) as exc:  # the user's code; KeyboardInterrupt propagates
            raise ModelError(_raised(f"Importing {where!r}", exc)) from exc
        return module
    if os.getcwd() not in sys.path and "" not in sys.path:
        sys.path.insert(0, os.getcwd())
    try:
        return importlib.import_module(where)
    except ModuleNotFoundError as exc:
        msg = (f"Cannot import module {where!r} ({exc}). Run from the folder that holds it, "
               "add it to PYTHONPATH, or give 'path/to/file.py:factory'.")
        raise ModelError(msg) from exc
    except (Exception, SystemExit) as exc:
        raise ModelError(_raised(f"Importing {where!r}", exc)) from exc


def _raised(what: str, exc: BaseException) -> str:
    """One line saying that the user's code raised ``exc`` (or called ``sys.exit``)."""
    if isinstance(exc, SystemExit):
        return (f"{what} called sys.exit({exc.code!r}); a model file must define the model, "
                "not end the program (guard script code with `if __name__ == '__main__':`).")
    return f"{what} raised {type(exc).__name__}: {exc}"


def read_state_dict(path: str | os.PathLike) -> dict[str, torch.Tensor]:
    """The tensors of a checkpoint file, read without running any code from it.

    ``.safetensors`` files are read with the safetensors library; ``torch.save`` files with
    ``torch.load(map_location="cpu", weights_only=True)``, after every member of the zip has
    been checked against its CRC-32 (torch's reader does not check, so a corrupted file would
    load with wrong numbers). A checkpoint holding a dict that nests the state dict under
    ``state_dict``, ``model_state_dict`` or ``model`` is unwrapped.

    Args:
        path: the checkpoint file.

    Returns:
        Name → tensor (on the CPU).

    Raises:
        DataError: the file is missing, a directory, not a checkpoint, corrupted, needs
            arbitrary unpickling (a whole pickled model, custom classes), holds no tensors, or
            holds sparse, meta or quantized tensors.
    """
    path = Path(path)
    if path.is_dir():
        msg = f"Weights file {str(path)!r} is a directory; give the checkpoint file inside it."
        raise DataError(msg)
    if not path.is_file():
        msg = f"Weights file {str(path)!r} does not exist."
        raise DataError(msg)
    kind = _checkpoint_kind(path)
    if kind == "safetensors":
        return _read_safetensors(path)
    if kind is None:
        msg = (f"{str(path)!r} is not a torch checkpoint (torch.save of a state dict) or a "
               ".safetensors file. Save model.state_dict() with torch.save.")
        raise DataError(msg)
    if kind == "zip":
        try:
            zf = zipfile.ZipFile(path)
        except (zipfile.BadZipFile, OSError) as exc:
            msg = f"Weights file {str(path)!r} is a damaged zip archive ({exc}). Save it again."
            raise DataError(msg) from None
        with zf:
            check_zip_crcs(zf, path)
    try:
        obj = torch.load(path, map_location="cpu", weights_only=True)
    except Exception as exc:
        reason = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
        if "weights_only" in str(exc) or "Unsupported global" in str(exc):
            msg = (f"Refusing {str(path)!r}: it needs arbitrary unpickling, which can run code "
                   f"({reason[:160]}). Save model.state_dict() instead, or use .safetensors.")
        else:
            msg = f"Cannot read weights file {str(path)!r}: {type(exc).__name__}: {reason[:200]}"
        raise DataError(msg) from None
    return _state_dict_of(obj, path)


def _checkpoint_kind(path: Path) -> str | None:
    """``"safetensors"``, ``"zip"`` (torch.save), ``"pickle"`` (legacy torch.save) or None."""
    if path.suffix == ".safetensors":
        return "safetensors"
    with open(path, "rb") as fh:
        head = fh.read(32)
    if zipfile.is_zipfile(path):
        return "zip"
    if head[:1] == PICKLE_PROTO and LEGACY_MAGIC in head:
        return "pickle"
    if len(head) >= 9 and head[8:9] == b"{" and int.from_bytes(head[:8], "little") < path.stat().st_size:
        return "safetensors"
    return None


def _read_safetensors(path: Path) -> dict[str, torch.Tensor]:
    try:
        from safetensors.torch import load_file as load_safetensors
    except ImportError:  # pragma: no cover - safetensors is a dependency
        msg = "Reading .safetensors needs the 'safetensors' package: pip install safetensors."
        raise DataError(msg) from None
    try:
        return dict(load_safetensors(str(path), device="cpu"))
    except Exception as exc:
        msg = f"Cannot read safetensors file {str(path)!r}: {type(exc).__name__}: {exc}"
        raise DataError(msg) from None


def _state_dict_of(obj, path: Path) -> dict[str, torch.Tensor]:
    if isinstance(obj, Mapping):
        for key in NESTED_STATE_KEYS:
            if isinstance(obj.get(key), Mapping) and _all_tensors(obj[key]):
                return _dense(dict(obj[key]), path)
        if obj and _all_tensors(obj):
            return _dense(dict(obj), path)
    msg = (f"Weights file {str(path)!r} holds a {type(obj).__name__}, not a state dict of tensors. "
           "Save model.state_dict().")
    raise DataError(msg)


def _dense(state: dict[str, torch.Tensor], path: Path) -> dict[str, torch.Tensor]:
    """``state`` unchanged if every tensor is an ordinary dense one with data.

    Raises:
        DataError: naming the first sparse (or other non-strided), meta or quantized tensor.
    """
    for key, tensor in state.items():
        if tensor.layout != torch.strided:
            why, fix = f"is stored as {tensor.layout}", "save its .to_dense()"
        elif tensor.is_meta:
            why, fix = "is a meta tensor (a shape without data)", "save the real weights"
        elif tensor.is_quantized:
            why, fix = "is quantized", "save its .dequantize()"
        else:
            continue
        msg = (f"Weights file {str(path)!r}: tensor {key!r} {why}; valleys needs dense tensors "
               f"with data ({fix}).")
        raise DataError(msg)
    return state


def _all_tensors(mapping: Mapping) -> bool:
    return all(isinstance(k, str) and isinstance(v, torch.Tensor) for k, v in mapping.items())


def load_weights(model: nn.Module, path: str | os.PathLike) -> nn.Module:
    """Copy the state dict stored at ``path`` into ``model`` after checking keys and shapes.

    Args:
        model: the model to fill.
        path: the checkpoint (``torch.save`` of a state dict, or ``.safetensors``).

    Returns:
        The same model, with its parameters and buffers replaced.

    Raises:
        DataError: the file cannot be read safely (see :func:`read_state_dict`).
        ModelError: the state dict does not match the model; the message names the first
            missing, unexpected or mis-shaped key.
    """
    state = read_state_dict(path)
    expected = model.state_dict()
    missing = [k for k in expected if k not in state]
    unexpected = [k for k in state if k not in expected]
    shaped = [k for k in expected if k in state and tuple(state[k].shape) != tuple(expected[k].shape)]
    if missing or unexpected or shaped:
        parts = []
        if missing:
            parts.append(f"missing key {missing[0]!r}" + (f" (+{len(missing) - 1} more)" if len(missing) > 1 else ""))
        if unexpected:
            parts.append(f"unexpected key {unexpected[0]!r}"
                         + (f" (+{len(unexpected) - 1} more)" if len(unexpected) > 1 else ""))
        if shaped:
            k = shaped[0]
            parts.append(f"key {k!r} has shape {tuple(state[k].shape)} in the file but "
                         f"{tuple(expected[k].shape)} in the model")
        msg = f"The weights in {str(path)!r} do not match the model: {'; '.join(parts)}."
        raise ModelError(msg)
    model.load_state_dict(state)
    return model


def load_exported(path: str | os.PathLike) -> nn.Module:
    """The module of a ``torch.export`` archive (``.pt2``), which needs no model code.

    The archive is checked first (:func:`valleys.analysis.archive.check_export_archive`):
    anything torch would unpickle or execute is refused before ``torch.export.load`` runs.

    Args:
        path: the ``.pt2`` file.

    Returns:
        The exported program's ``nn.Module``.

    Raises:
        DataError: the file is missing, a directory, corrupted, or not a readable export archive.
        UnsafeModelError: the archive holds pickled objects or code.
    """
    path = Path(path)
    if path.is_dir():
        msg = f"Exported model {str(path)!r} is a directory; give the .pt2 file."
        raise DataError(msg)
    if not path.is_file():
        msg = f"Exported model {str(path)!r} does not exist."
        raise DataError(msg)
    data = path.read_bytes()  # checked and loaded from the same bytes
    check_export_archive(path, data)
    try:
        return torch.export.load(io.BytesIO(data)).module()
    except Exception as exc:
        msg = (f"Cannot load {str(path)!r} as a torch.export archive: {type(exc).__name__}: "
               f"{str(exc).splitlines()[0] if str(exc) else ''}")
        raise DataError(msg) from None


def file_sha256(path: str | os.PathLike) -> str:
    """The SHA-256 of a file's bytes (stored with an analysis run).

    Args:
        path: the file.

    Returns:
        The hex digest.
    """
    digest = hashlib.sha256()
    with open(path, "rb") as fh:
        for block in iter(lambda: fh.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def build_model(model: str, weights: str | None = None) -> tuple[nn.Module, dict]:
    """A model from a factory spec (plus optional weights) or from a ``.pt2`` archive.

    Args:
        model: ``"file.py:factory"`` / ``"package.module:factory"`` (see
            :func:`load_factory`) or the path of a ``.pt2`` export archive.
        weights: a checkpoint to load into the factory's model (not allowed with ``.pt2``).

    Returns:
        ``(module, provenance)`` where provenance records the spec, the files and their
        SHA-256 hashes.

    Raises:
        ModelError: weights given with a ``.pt2`` archive (which carries its own), or the
            weights do not match the model.
        DataError: a file cannot be read safely.
        UnsafeModelError: a ``.pt2`` archive holds pickled objects or code.
    """
    info: dict = {"model": model}
    if model.endswith(".pt2") and ":" not in model:
        module = load_exported(model)
        info["model_sha256"] = file_sha256(model)
        if weights is not None:
            msg = "An exported .pt2 model carries its own weights: drop --weights."
            raise ModelError(msg)
        return module, info
    module = load_factory(model)
    if weights is not None:
        load_weights(module, weights)
        info["weights"] = str(weights)
        info["weights_sha256"] = file_sha256(weights)
    return module, info
