"""An analysis as a stored run: parameters, tables, figures and report like an experiment's.

Everything the user gave is checked and the landscape is built *before* the run store is
opened, so a bad model, checkpoint, data file or option stores nothing.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, ClassVar

from ..errors import InvalidParameterError
from ..record import Experiment, Params, Result, Verdict
from .analysis import AnalysisResult, _check_dense, _theta_of, check_start, make_landscape, run_analysis
from .inputs import DEFAULT_DATA_SEED, parse_input_shape, resolve_data
from .model import build_model, file_sha256, load_weights
from .options import MAX_PLANE_POINTS, AnalysisOptions, check_device, check_dtype

SOURCE = "user model (valleys analyze)"
CLAIM = "measurement only: no theorem is checked"


@dataclass(frozen=True)
class AnalyzeParams(Params):
    """Everything an analysis run was asked, stored as its ``params.json``.

    The measurement fields (``eigs``, ``eig_tol``, ``trace``, ``trace_matvecs``, ``density``,
    ``nullity``, ``classify``, ``plane``, ``interpolate``, ``certify``, ``connect``,
    ``max_dense``, ``max_plane_points``) are those of :class:`AnalysisOptions` (``eig_tol``
    0 follows the dtype; empty strings mean off).

    Attributes:
        model: the factory spec ``pkg.module:factory`` / ``file.py:factory`` or a ``.pt2`` file.
        weights: the checkpoint (``""`` for the factory's own initialisation).
        weights_sha256: SHA-256 of the checkpoint (filled in by valleys).
        data: data set name or file.
        n: the number of samples analysed; 0 takes all, ``n`` > 0 keeps a random subset
            drawn with ``data_seed`` (not ``seed``: changing the seed keeps the samples).
        data_seed: seed of the subset.
        task: how a data file's targets are read: ``"classification"`` or ``"regression"``
            (``""``: classification for a file, a named data set's own task).
        label: the target array (``.npz``) or column (``.csv``) of a data file.
        data_sha256: SHA-256 of the analysed inputs and targets (filled in by valleys).
        input_shape: per-sample input shape, ``"C,H,W"`` (``""`` keeps the stored shape).
        loss: the loss name.
        output: the part of a tuple/list/dict model output the loss takes: an index
            (``"0"``) or a key (``"logits"``); ``""`` for a model returning a tensor.
        dtype: the landscape's dtype, ``"float64"`` or ``"float32"``.
        device: where the model is evaluated, ``"cpu"`` or ``"cuda[:N]"``.
        batch_size: rows per evaluation batch (0: one full batch).
        eigs: :attr:`AnalysisOptions.eigs`.
        eig_tol: :attr:`AnalysisOptions.eig_tol` (0 follows the dtype).
        trace: :attr:`AnalysisOptions.trace`.
        trace_matvecs: :attr:`AnalysisOptions.trace_matvecs`.
        density: :attr:`AnalysisOptions.density`.
        nullity: :attr:`AnalysisOptions.nullity`.
        classify: :attr:`AnalysisOptions.classify`.
        plane: :attr:`AnalysisOptions.plane` as ``"min:max:num"`` (``""``: off).
        interpolate: :attr:`AnalysisOptions.interpolate` (``""``: off).
        certify: :attr:`AnalysisOptions.certify`.
        connect: :attr:`AnalysisOptions.connect` (``""``: off).
        max_dense: :attr:`AnalysisOptions.max_dense`.
        max_plane_points: :attr:`AnalysisOptions.max_plane_points`.
        interpolate_sha256: SHA-256 of the ``interpolate`` checkpoint (filled in by valleys).
        connect_sha256: SHA-256 of the ``connect`` checkpoint (filled in by valleys).
        seed: :attr:`AnalysisOptions.seed`.
    """

    model: str = ""
    weights: str = ""
    weights_sha256: str = ""
    data: str = "digits"
    data_sha256: str = ""
    n: int = 0
    data_seed: int = DEFAULT_DATA_SEED
    task: str = ""
    label: str = "y"
    input_shape: str = ""
    loss: str = "ce"
    output: str = ""
    dtype: str = "float64"
    device: str = "cpu"
    batch_size: int = 0
    eigs: int = 5
    eig_tol: float = 0.0
    trace: bool = True
    trace_matvecs: int = 100
    density: bool = False
    nullity: bool = False
    classify: bool = False
    plane: str = ""
    interpolate: str = ""
    certify: bool = False
    connect: str = ""
    max_dense: int = 3000
    interpolate_sha256: str = ""
    connect_sha256: str = ""
    max_plane_points: int = MAX_PLANE_POINTS
    LIMITS: ClassVar[dict[str, str]] = {
        "model": "nonempty", "data": "nonempty", "n": ">= 0", "data_seed": ">= 0", "loss": "nonempty",
        "dtype": "one of float64|float32", "device": "nonempty", "batch_size": ">= 0",
        "eigs": ">= 0", "eig_tol": "in [0, 1]", "trace_matvecs": ">= 4", "max_dense": ">= 1",
        "max_plane_points": ">= 4"}
    """Declared limits; the free-form strings (paths, grids, hashes) and the flags are checked
    by :func:`prepare`."""

    def options(self) -> AnalysisOptions:
        """The measurement fields as :class:`AnalysisOptions` (empty texts and zeros become None).

        Returns:
            The options of the analysis.
        """
        return AnalysisOptions(eigs=self.eigs, eig_tol=self.eig_tol or None, trace=self.trace,
                               trace_matvecs=self.trace_matvecs, density=self.density,
                               nullity=self.nullity, classify=self.classify,
                               plane=self.plane or None, interpolate=self.interpolate or None,
                               certify=self.certify, connect=self.connect or None,
                               max_dense=self.max_dense, max_plane_points=self.max_plane_points,
                               seed=self.seed)

    def output_selector(self) -> int | str | None:
        """``output`` as :class:`~valleys.Landscape` takes it: an int index, a key, or None.

        Returns:
            An int when ``output`` reads as an integer, the text otherwise, None when empty.
        """
        text = self.output.strip()
        if not text:
            return None
        return int(text) if text.lstrip("-").isdigit() else text


class Measurement(Verdict):
    """The verdict of an analysis: no theorem is checked, so it only reports completion.

    Its :attr:`outcome` is ``"measured"`` when every check of the analysis passed (and the run
    is stored as passed), ``"measurement failed"`` otherwise (stored as failed) — never
    ``"agrees"``, which would claim a theorem held.
    """

    @property
    def outcome(self) -> str:
        """``"measured"`` or ``"measurement failed"`` (see :data:`~valleys.record.OUTCOMES`)."""
        return "measured" if all(c.passed for c in self.checks) else "measurement failed"

    @property
    def passed(self) -> bool:
        """Whether every check of the analysis passed."""
        return self.outcome == "measured"

    @property
    def summary(self) -> str:
        return "measured (no theorem checked)"


@dataclass
class PreparedAnalysis:
    """A checked analysis, ready to run: its parameters, landscape and second models.

    Attributes:
        params: the :class:`AnalyzeParams` with the file and data hashes filled in.
        land: the analysed model's :class:`~valleys.Landscape`.
        ends: the second models' points for ``"interpolate"`` / ``"connect"``, by option.
        data_info: a description of the data and its hash.
        model_info: the model's provenance (spec, files, SHA-256 hashes).
        notes: lines about what the preparation changed (eval mode, ...).
    """

    params: AnalyzeParams
    land: Any
    ends: dict
    data_info: dict
    model_info: dict
    notes: list = field(default_factory=list)

    @property
    def name(self) -> str:
        stem = Path(self.params.model.split(":")[-1] if ":" in self.params.model else self.params.model).stem
        return "analyze-" + (re.sub(r"[^A-Za-z0-9_-]+", "_", stem).strip("_-") or "model")

    def experiment(self, progress: bool | None = None) -> Experiment:
        """An unregistered experiment whose run is this analysis (for the run store).

        Args:
            progress: show a progress bar (None: only on a terminal).

        Returns:
            An :class:`~valleys.record.Experiment` named ``analyze-<model>`` whose run returns
            the analysis as a :class:`~valleys.record.Result` (model info and notes in its
            metadata).
        """

        def run(params: AnalyzeParams) -> Result:
            res = run_analysis(self.land, params.options(), self.ends, self.data_info, progress)
            res.metadata["model"] = self.model_info
            res.metadata["notes"] = list(self.notes)
            return as_result(res)

        return Experiment(self.name, SOURCE, CLAIM, AnalyzeParams, run)


def as_result(res: AnalysisResult) -> Result:
    """An :class:`AnalysisResult` as an experiment :class:`Result` for the run store.

    Args:
        res: the analysis.

    Returns:
        A :class:`~valleys.record.Result` with the analysis's table, figures and surfaces, an
        empty verdict (nothing is checked) and metadata ``{"summary": ..., **metadata}``.
    """
    return Result(table=res.table, verdict=Measurement(), figures=res.figures,
                  metadata={"summary": res.summary, **res.metadata}, surfaces=res.surfaces)


def prepare(params: AnalyzeParams) -> PreparedAnalysis:
    """Check every input and build the landscape; raises a ValleysError on any bad input.

    The weight and data hashes are filled into the returned parameters.

    Args:
        params: what the analysis was asked.

    Returns:
        The :class:`PreparedAnalysis`.

    Raises:
        ValleysError: any bad input (model, weights, data, options, a start where the loss or
            gradient is not finite, a dense computation too large); the subclass and message
            say which.
    """
    options = params.options()
    dtype, device = check_dtype(params.dtype), check_device(params.device)
    module, info = build_model(params.model, params.weights or None)
    shape = parse_input_shape(params.input_shape)
    X, y, data_info = resolve_data(params.data, n=params.n or None, data_seed=params.data_seed,
                                   input_shape=shape, task=params.task or None, label=params.label)
    notes: list[str] = []
    land = make_landscape(module, X, y, params.loss, dtype, device, params.batch_size or None,
                          output=params.output_selector(), notes=notes)
    ends = {}
    for what in ("interpolate", "connect"):
        path = getattr(options, what)
        if path:
            other, _ = build_model(params.model, None if params.model.endswith(".pt2") else path)
            if params.model.endswith(".pt2"):
                load_weights(other, path)
            ends[what] = _theta_of(land, other, what)
            info[f"{what}_sha256"] = file_sha256(path)
    _check_dense(land, options)
    check_start(land, options)
    filled = params.replace(weights_sha256=info.get("weights_sha256", info.get("model_sha256", "")),
                            data_sha256=data_info["data_sha256"],
                            interpolate_sha256=info.get("interpolate_sha256", ""),
                            connect_sha256=info.get("connect_sha256", ""))
    return PreparedAnalysis(filled, land, ends, data_info, info, notes)


def run_stored(params: AnalyzeParams, store: Any, *, progress: bool | None = None):
    """Prepare (checking everything), then run and store the analysis.

    Args:
        params: what to analyse.
        store: the run store (:class:`valleys.runs.RunStore`), or a function of no
            arguments that opens it; the function is called only once every input is
            checked, so a bad input leaves no store behind.
        progress: show progress bars (None: only on a terminal).

    Returns:
        ``(record, details)``: the catalogue record of the stored run and its loaded result.

    Raises:
        InvalidParameterError: ``store`` is neither a run store nor a function opening one.
    """
    if not (hasattr(store, "execute") or callable(store)):
        msg = (f"run_stored takes the run store: run_stored(params, RunStore(runs_dir)) or "
               f"run_stored(params, lambda: RunStore(runs_dir)). Got {type(store).__name__}.")
        raise InvalidParameterError(msg)
    prepared = prepare(params)
    if not hasattr(store, "execute"):
        store = store()
    record = store.execute(prepared.experiment(progress), prepared.params, progress=bool(progress))
    return record, store.load_result(record.run_id)
