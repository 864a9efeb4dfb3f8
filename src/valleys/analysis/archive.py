"""Check model files before torch reads them: nothing in them may run code, and no byte is corrupt.

``torch.export.load`` runs code from a ``.pt2`` archive in several places (torch 2.13):

- weights and tensor constants whose config entry says ``"use_pickle": true`` are read with
  ``torch.load(weights_only=False)``; ``opaque_obj_*`` constants with ``pickle.loads``;
  ``custom_obj_*`` constants with the TorchScript unpickler;
- ``data/sample_inputs/<model>.pt`` falls back to ``torch.load(weights_only=False)`` when the
  restricted load fails; a legacy archive's weights and constants (``data/weights/<model>.pt``,
  the pre-2.8 zip layout) go the same way;
- ``data/aotinductor/`` holds compiled shared libraries, which are loaded;
- in ``models/<model>.json``: every ``expr_str`` goes through ``sympy.sympify`` (an ``eval``),
  ``guards_code`` is pasted into Python source and ``exec``-ed by ``ExportedProgram.module()``,
  node targets resolve to *any* callable reachable from ``torch``, ``operator`` or ``math``
  (``torch.os.system`` included), and names, tree-spec keys and string inputs end up in
  generated Python source.

:func:`check_export_archive` therefore accepts only what a plain ``torch.export.save`` of an
``nn.Module`` writes — an allow-list, not a deny-list: the members listed below, raw tensor
bytes described by JSON configs, sample inputs that the restricted ``weights_only=True``
unpickler reads, ATen/prims operators and symbolic-shape operators as node targets, symbolic
expressions built only from sympy/torch shape functions, symbols and numbers, and size guards
on the inputs. Anything else is refused before ``torch.export.load`` sees the file.

:func:`check_zip_crcs` verifies every member of a zip archive (``torch.save`` files are zips)
against its stored CRC-32: torch's reader does not, so flipped bytes would load silently.
"""

from __future__ import annotations

import ast
import io
import json
import re
import zipfile
from pathlib import Path

from ..errors import DataError, UnsafeModelError

#: The one program name ``torch.export.save`` writes and ``torch.export.load`` returns.
MODEL_NAME = "model"

#: Members (relative to the archive's root folder) of a plain ``torch.export.save`` archive.
FIXED_MEMBERS = frozenset({
    "archive_format", "archive_version", "byteorder", ".data/version", ".data/serialization_id",
    f"models/{MODEL_NAME}.json",
    f"data/weights/{MODEL_NAME}_weights_config.json",
    f"data/constants/{MODEL_NAME}_constants_config.json",
    f"data/sample_inputs/{MODEL_NAME}.pt",
})
REQUIRED_MEMBERS = (f"models/{MODEL_NAME}.json", f"data/weights/{MODEL_NAME}_weights_config.json",
                    f"data/constants/{MODEL_NAME}_constants_config.json")
EXTRA_DIR = "extra/"
"""``torch.export.save(extra_files=...)``: read back as text only."""

#: Payload file names in the weights/constants configs: raw tensor bytes only.
PAYLOAD_NAME = {"weights": re.compile(r"weight_[0-9]+"), "constants": re.compile(r"tensor_[0-9]+")}

#: Strings in the graph JSON that are not free text: names, dtypes, versions, operator names.
PLAIN_STRING = re.compile(r"[A-Za-z0-9_.]*")
#: Keys whose string values are free text that torch never turns into code.
FREE_TEXT_KEYS = frozenset({"as_string", "as_strings", "torch_version"})
#: Graph-input kinds a model that maps tensors to tensors has (no string or object inputs).
GRAPH_INPUT_KINDS = frozenset({"as_tensor", "as_int", "as_float", "as_bool", "as_none",
                               "as_sym_int", "as_sym_float", "as_sym_bool"})
#: Operator namespaces whose ops are accepted as node targets.
OP_TARGET = re.compile(r"torch\.ops\.(aten|prims)\.[A-Za-z0-9_]+\.[A-Za-z0-9_]+")
#: The symbolic-shape operators as torch's serializer names them (its ``_SYM_OPS``).
SYM_OP_TARGETS = frozenset({
    "_operator.add", "_operator.and_", "_operator.eq", "_operator.floordiv", "_operator.ge",
    "_operator.gt", "_operator.le", "_operator.lshift", "_operator.lt", "_operator.mod",
    "_operator.mul", "_operator.ne", "_operator.neg", "_operator.or_", "_operator.pos",
    "_operator.pow", "_operator.rshift", "_operator.sub", "_operator.truediv", "math.trunc",
    "torch._sym_sqrt", "torch.sym_float", "torch.sym_int", "torch.sym_ite", "torch.sym_max",
    "torch.sym_min", "torch.sym_not",
})
#: Functions a symbolic shape expression may call (sympy and torch.utils._sympy.functions).
SYMPY_FUNCTIONS = frozenset({
    "Symbol", "Integer", "Float", "Rational", "Add", "Mul", "Pow", "Mod", "Abs", "Max", "Min",
    "Eq", "Ne", "Lt", "Le", "Gt", "Ge", "StrictLessThan", "StrictGreaterThan", "LessThan",
    "GreaterThan", "Equality", "Unequality", "And", "Or", "Not", "floor", "ceiling", "sqrt",
    "Piecewise", "FloorDiv", "ModularIndexing", "Where", "PythonMod", "CleanDiv", "CeilToInt",
    "FloorToInt", "CeilDiv", "LShift", "RShift", "PowByNatural", "FloatPow", "FloatTrueDiv",
    "IntTrueDiv", "IsNonOverlappingAndDenseIndicator", "TruncToFloat", "TruncToInt", "RoundToInt",
    "RoundDecimal", "ToFloat", "Identity", "BitwiseFn_bitwise_and", "BitwiseFn_bitwise_or",
})
SYMPY_CONSTANTS = frozenset({"oo", "zoo", "nan", "true", "false", "True", "False", "None"})
SYMBOL_NAME = re.compile(r"[A-Za-z_]+[0-9]+")
"""Shape symbols (``s0``, ``u3``): letters then digits, so never a Python builtin's name."""
#: Tensor methods a guard may call on an input (``L['x'].size()[0] >= 2``).
GUARD_METHODS = frozenset({"size", "stride", "dim", "storage_offset", "numel"})
TREESPEC_TYPES = frozenset({None, "builtins.tuple", "builtins.list", "builtins.dict"})
IDENTIFIER = re.compile(r"[A-Za-z_][A-Za-z0-9_]*")

_ARITH = (ast.Add, ast.Sub, ast.Mult, ast.Div, ast.FloorDiv, ast.Mod, ast.Pow)
_COMPARE = (ast.Eq, ast.NotEq, ast.Lt, ast.LtE, ast.Gt, ast.GtE)


def check_zip_crcs(zf: zipfile.ZipFile, path: Path) -> None:
    """Read every member of ``zf`` and compare it with its stored CRC-32.

    Args:
        zf: the open archive.
        path: its file path, for the error message.

    Raises:
        DataError: a member's bytes do not match its CRC, or a member cannot be read (the file
            was corrupted after saving).
    """
    try:
        bad = zf.testzip()
    except (zipfile.BadZipFile, OSError, EOFError, ValueError, NotImplementedError) as exc:
        bad, reason = "?", str(exc)
    else:
        reason = "its bytes do not match the stored CRC-32"
    if bad is not None:
        msg = (f"{str(path)!r} is corrupted: member {bad!r} fails its integrity check ({reason}). "
               "Copy or save the file again.")
        raise DataError(msg)


def check_export_archive(path: str | Path, data: bytes | None = None) -> None:
    """Refuse a ``.pt2`` file unless loading it with ``torch.export.load`` runs no code from it.

    Args:
        path: the archive (an existing file); named in messages.
        data: the archive's bytes, when the caller has read them (and will hand the same
            bytes to torch, so that what is checked is what is loaded); default: read ``path``.

    Raises:
        DataError: not a zip archive, corrupted, or not a ``torch.export.save`` archive.
        UnsafeModelError: it holds anything outside the allow-list of the module docstring.
    """
    path = Path(path)
    try:
        zf = zipfile.ZipFile(path if data is None else io.BytesIO(data))
    except (zipfile.BadZipFile, OSError) as exc:
        msg = (f"{str(path)!r} is not a torch.export archive ({exc}). Make one with "
               "torch.export.save(torch.export.export(model, (x,)), 'model.pt2').")
        raise DataError(msg) from None
    with zf:
        check_zip_crcs(zf, path)
        members = _members(zf, path)
        refuse = _refuser(path)
        weights = _payloads(zf, members, "weights", refuse)
        constants = _payloads(zf, members, "constants", refuse)
        for rel in members:
            if not (rel in FIXED_MEMBERS or rel in weights or rel in constants
                    or (rel.startswith(EXTRA_DIR) and len(rel) > len(EXTRA_DIR))):
                refuse(f"it holds {rel!r}, which is not part of a plain torch.export.save archive "
                       "(compiled code, pickled objects or a legacy layout)")
        _check_sample_inputs(zf, members, refuse)
        _check_program(zf.read(members[f"models/{MODEL_NAME}.json"]), refuse)


def _refuser(path: Path):
    def refuse(reason: str):
        msg = (f"Refusing {str(path)!r}: {reason}; loading it could run code. valleys loads only "
               "plain torch.export.save archives (a graph of ATen operators and raw tensors); "
               "export the model again, or give its factory and a state dict instead.")
        raise UnsafeModelError(msg)
    return refuse


def _members(zf: zipfile.ZipFile, path: Path) -> dict[str, zipfile.ZipInfo]:
    """The archive's members by their name below the single root folder torch writes.

    Raises:
        DataError: not laid out as a ``torch.export.save`` archive.
        UnsafeModelError: a member name occurs twice (torch and zipfile could read different ones).
    """
    infos = zf.infolist()
    names = [info.filename for info in infos]
    roots = {name.split("/", 1)[0] for name in names}
    if not names or len(roots) != 1 or any("/" not in name for name in names):
        msg = (f"{str(path)!r} is not a torch.export archive (its members are not under one "
               "folder). Make one with torch.export.save(torch.export.export(model, (x,)), 'model.pt2').")
        raise DataError(msg)
    if len(set(names)) != len(names):
        _refuser(path)("it holds the same member name twice")
    if min(info.header_offset for info in infos) != 0:
        _refuser(path)("bytes precede its first zip member (torch's and Python's zip readers "
                       "could then read different members)")
    members = {info.filename.split("/", 1)[1]: info for info in infos if not info.is_dir()}
    missing = [rel for rel in REQUIRED_MEMBERS if rel not in members]
    if missing:
        msg = (f"{str(path)!r} is not a torch.export archive of this torch version (it lacks "
               f"{missing[0]!r}). Export the model again with torch.export.save.")
        raise DataError(msg)
    return members


def _json(raw: bytes, rel: str, refuse):
    try:
        return json.loads(raw)
    except (UnicodeDecodeError, json.JSONDecodeError) as exc:
        refuse(f"{rel!r} is not valid JSON ({exc})")
        raise  # pragma: no cover - refuse raises


def _payloads(zf: zipfile.ZipFile, members: dict[str, zipfile.ZipInfo], kind: str, refuse) -> set[str]:
    """The payload members a weights/constants config names; each must be raw tensor bytes."""
    rel = f"data/{kind}/{MODEL_NAME}_{kind}_config.json"
    config = _json(zf.read(members[rel]), rel, refuse)
    entries = config.get("config") if isinstance(config, dict) else None
    if not isinstance(entries, dict):
        refuse(f"{rel!r} has no 'config' mapping")
    names = set()
    for fqn, entry in entries.items():
        if not isinstance(entry, dict):
            refuse(f"{rel!r} entry {fqn!r} is not a mapping")
        if not _dotted_name(fqn):
            refuse(f"{rel!r} names a tensor {fqn!r}, which is not a dotted identifier")
        if entry.get("use_pickle") is not False:
            refuse(f"{kind} entry {fqn!r} is pickled (use_pickle), and torch unpickles it with code allowed")
        name = entry.get("path_name")
        if not isinstance(name, str) or not PAYLOAD_NAME[kind].fullmatch(name):
            refuse(f"{kind} entry {fqn!r} is stored as {name!r}, which is not a raw tensor payload "
                   "(opaque or custom objects are unpickled)")
        if not isinstance(entry.get("tensor_meta"), dict):
            refuse(f"{kind} entry {fqn!r} has no tensor description")
        names.add(f"data/{kind}/{name}")
    _walk(entries, None, refuse)  # sizes, strides, devices: plain values only
    return names


def _check_sample_inputs(zf: zipfile.ZipFile, members: dict[str, zipfile.ZipInfo], refuse) -> None:
    """Sample inputs must load with the restricted unpickler (torch falls back to full pickle)."""
    import torch

    rel = f"data/sample_inputs/{MODEL_NAME}.pt"
    data = zf.read(members[rel]) if rel in members else b""
    if not data:
        return
    try:
        # the very call torch makes first (no map_location): if it succeeds, torch never
        # falls back to the unrestricted unpickler
        sample = torch.load(io.BytesIO(data), weights_only=True)
    except Exception as exc:  # noqa: BLE001 - any failure means torch would unpickle fully
        refuse(f"its sample inputs are not plain tensors (the restricted weights_only loader "
               f"refuses them: {type(exc).__name__})")
    if not isinstance(sample, (tuple, dict)):
        refuse("its sample inputs are not a tuple of tensors")


def _check_program(raw: bytes, refuse) -> None:
    """Walk the graph JSON: every string torch evaluates, executes or pastes into code is checked."""
    program = _json(raw, f"models/{MODEL_NAME}.json", refuse)
    if not isinstance(program, dict):
        refuse("its program is not a JSON object")
    guards = program.get("guards_code") or []
    if not isinstance(guards, list) or not all(isinstance(g, str) and _safe_guard(g) for g in guards):
        bad = next((g for g in guards if not (isinstance(g, str) and _safe_guard(g))), guards)
        refuse(f"its guards_code {str(bad)[:80]!r} is not a plain size check on the inputs "
               "(torch executes it as Python)")
    rest = {k: v for k, v in program.items() if k != "guards_code"}
    _walk(rest, None, refuse)


def _walk(node, key: str | None, refuse) -> None:
    if isinstance(node, dict):
        for k, v in node.items():
            if not isinstance(k, str) or not PLAIN_STRING.fullmatch(k):
                refuse(f"its program has a key {str(k)[:80]!r} that is not a plain name")
            if k == "metadata" and isinstance(v, dict):
                continue  # stack traces and module paths: stored as text, never evaluated
            if k == "inputs" and key == "graph":
                _check_graph_inputs(v, refuse)
            _walk(v, k, refuse)
    elif isinstance(node, list):
        for item in node:
            _walk(item, key, refuse)
    elif isinstance(node, str):
        _check_string(node, key, refuse)


def _check_string(value: str, key: str | None, refuse) -> None:
    if key in FREE_TEXT_KEYS:
        return
    if key in ("target", "as_operator"):
        if not _allowed_target(value):
            refuse(f"its graph calls {value[:80]!r}, which is not an ATen operator")
    elif key == "expr_str":
        if not _safe_sym_expr(value):
            refuse(f"its symbolic expression {value[:80]!r} is not a plain shape expression "
                   "(torch evaluates it with sympify)")
    elif key in ("in_spec", "out_spec"):
        if not _safe_treespec(value):
            refuse(f"its input/output structure {value[:80]!r} holds types or keys other than "
                   "tuples, lists and dicts with identifier keys")
    elif not PLAIN_STRING.fullmatch(value):
        refuse(f"its program holds {value[:80]!r} under {key!r}, which is not a plain name")


def _check_graph_inputs(inputs, refuse) -> None:
    for item in inputs if isinstance(inputs, list) else [inputs]:
        kinds = set(item) if isinstance(item, dict) else {"?"}
        if not kinds <= GRAPH_INPUT_KINDS:
            refuse(f"its graph takes a {'/'.join(sorted(map(str, kinds)))} input (a model takes tensors)")


def _dotted_name(value: str) -> bool:
    return all(part and re.fullmatch(r"[A-Za-z0-9_]+", part) for part in value.split("."))


def _allowed_target(target: str) -> bool:
    """ATen/prims operator overloads, and the symbolic-shape operators torch's serializer emits."""
    return bool(OP_TARGET.fullmatch(target)) or target in SYM_OP_TARGETS


def _safe_sym_expr(text: str) -> bool:
    """Calls of shape functions on symbols and numbers: nothing sympify's eval could abuse."""
    tree = _parse(text)
    if tree is None:
        return False
    for node in ast.walk(tree):
        if isinstance(node, ast.Call):
            if not (isinstance(node.func, ast.Name) and node.func.id in SYMPY_FUNCTIONS):
                return False
        elif isinstance(node, ast.keyword):
            if node.arg is None or not isinstance(node.value, ast.Constant):
                return False
        elif isinstance(node, ast.Name):
            if not (node.id in SYMPY_FUNCTIONS or node.id in SYMPY_CONSTANTS
                    or SYMBOL_NAME.fullmatch(node.id)):
                return False
        elif isinstance(node, ast.Constant):
            if isinstance(node.value, str) and not SYMBOL_NAME.fullmatch(node.value):
                return False
            if not isinstance(node.value, (str, int, float, bool, type(None))):
                return False
        elif not isinstance(node, (ast.Expression, ast.BinOp, ast.UnaryOp, ast.Compare, ast.BoolOp,
                                   ast.Load, ast.USub, ast.UAdd, ast.Not, ast.And, ast.Or,
                                   *_ARITH, *_COMPARE)):
            return False
    return True


def _safe_guard(text: str) -> bool:
    """Comparisons and arithmetic on ``L['name']...size()[i]``-style reads of the inputs."""
    tree = _parse(text)
    if tree is None:
        return False
    for node in ast.walk(tree):
        if isinstance(node, ast.Name):
            if node.id != "L":
                return False
        elif isinstance(node, ast.Call):
            if node.keywords or not (isinstance(node.func, ast.Attribute)
                                     and node.func.attr in GUARD_METHODS):
                return False
        elif isinstance(node, ast.Attribute):
            if node.attr not in GUARD_METHODS:
                return False
        elif isinstance(node, ast.Constant):
            if isinstance(node.value, str) and not IDENTIFIER.fullmatch(node.value):
                return False
            if not isinstance(node.value, (str, int, float, bool)):
                return False
        elif not isinstance(node, (ast.Expression, ast.Subscript, ast.BinOp, ast.UnaryOp,
                                   ast.Compare, ast.BoolOp, ast.Load, ast.USub, ast.UAdd, ast.Not,
                                   ast.And, ast.Or, *_ARITH, *_COMPARE)):
            return False
    return True


def _safe_treespec(text: str) -> bool:
    """A serialized pytree spec of tuples, lists, dicts (identifier keys) and leaves."""
    try:
        spec = json.loads(text)
    except (json.JSONDecodeError, TypeError):
        return False
    if not (isinstance(spec, list) and len(spec) == 2 and isinstance(spec[0], int)):
        return False
    stack = [spec[1]]
    while stack:
        node = stack.pop()
        if not isinstance(node, dict) or node.get("type") not in TREESPEC_TYPES:
            return False
        children = node.get("children_spec")
        if not isinstance(children, list):
            return False
        if not _safe_context(node.get("type"), node.get("context")):
            return False
        stack.extend(children)
    return True


def _safe_context(kind: str | None, context) -> bool:
    if kind != "builtins.dict":
        return context in (None, "null")
    try:
        keys = json.loads(context)
    except (json.JSONDecodeError, TypeError):
        return False
    return isinstance(keys, list) and all(
        (isinstance(k, str) and IDENTIFIER.fullmatch(k)) or (isinstance(k, int) and not isinstance(k, bool))
        for k in keys)


def _parse(text: str) -> ast.Expression | None:
    if len(text) > 10_000:
        return None
    try:
        return ast.parse(text, mode="eval")
    except (SyntaxError, ValueError):
        return None
