"""Where sweep tasks run: a local process pool, the driver process, or a Dask cluster.

Every executor takes task dicts (plain data, :meth:`Task.to_dict`) and yields
``(task, outcome)`` pairs as tasks complete, in completion order; ``outcome`` is what
:func:`valleys.runs.sweep_task.run_task` returns. A task whose worker process dies is
yielded with ``ok: False`` and the exit code, and the sweep goes on.

- :class:`LocalPool` (default): ``workers`` processes started by a ``forkserver`` that
  has already imported valleys, each with ``threads`` torch threads, so that
  ``workers * threads`` does not exceed the cores. It is built on ``multiprocessing``
  rather than ``concurrent.futures`` because a ``ProcessPoolExecutor`` whose worker dies
  breaks as a whole and cannot say which task killed it; here each worker runs one task
  at a time, so a death is charged to that task alone and a fresh worker takes its place.
- :class:`InlineExecutor` (``--workers 0``): tasks run one after another in the driver.
- :class:`DaskExecutor` (``--scheduler tcp://host:port``): ``distributed.Client``; the
  workers return outcomes to the driver, which alone writes the run store. If the
  scheduler goes away mid-sweep, the tasks that did not finish are left *not run*
  (pending) and :class:`SchedulerLostError` says to rerun the command to resume them.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import multiprocessing
import os
import signal
import threading
import time
import uuid
from collections import deque
from collections.abc import Callable, Iterator
from multiprocessing.connection import wait
from typing import Any

from ..errors import InvalidParameterError, ValleysError
from .sweep_task import preload_modules, run_task

Outcome = dict[str, Any]

DEFAULT_CONNECT_TIMEOUT_S = 10.0
"""How long ``--scheduler`` waits for the Dask scheduler before giving up (seconds)."""

DEFAULT_WORKER_TIMEOUT_S = 60.0
"""How long ``--scheduler`` waits for a first worker to join the scheduler (seconds)."""

_WORKER_POLL_S = 0.2
"""How often the number of workers is asked for while waiting for the first one (seconds)."""


class SchedulerUnreachableError(ValleysError, ConnectionError):
    """The Dask scheduler named by ``--scheduler`` did not answer in time."""


class NoWorkersError(ValleysError, ConnectionError):
    """The Dask scheduler had no worker within the worker timeout."""


class SchedulerLostError(ValleysError, ConnectionError):
    """The connection to the Dask scheduler was lost while tasks were unfinished."""


def available_cores() -> int:
    """The CPU cores this process may use.

    Returns:
        The number of cores in this process's CPU affinity (else the machine's count), at
        least 1.
    """
    try:
        return max(1, len(os.sched_getaffinity(0)))
    except (AttributeError, OSError):
        return max(1, os.cpu_count() or 1)


def threads_per_worker(workers: int, cores: int | None = None) -> int:
    r"""Torch threads per worker so that ``workers * threads <= cores`` (at least 1).

    Args:
        workers: the number of workers.
        cores: the cores to share (default :func:`available_cores`).

    Returns:
        \(\max(1, \lfloor \text{cores} / \max(1, \text{workers}) \rfloor)\).
    """
    cores = available_cores() if cores is None else cores
    return max(1, cores // max(1, workers))


def dead_outcome(task: dict[str, Any], exitcode: int | None, where: str) -> Outcome:
    """The outcome of a task whose worker process died.

    Args:
        task: the task dict.
        exitcode: the process's exit code (negative: killed by that signal), or None.
        where: what died, for the message (``"worker process"``, ...).

    Returns:
        A failed outcome dict (``ok`` False, ``key``, ``error`` naming the exit code or
        signal, empty traceback).
    """
    from .sweep_spec import Task

    code = "unknown" if exitcode is None else str(exitcode)
    signal_note = f" (killed by signal {-exitcode})" if exitcode is not None and exitcode < 0 else ""
    return {"ok": False, "key": Task.from_dict(task).key,
            "error": f"WorkerDied: the {where} running this task died with exit code "
                     f"{code}{signal_note}.", "traceback": "", "wall_time_s": None,
            "pid": None, "host": None}


class InlineExecutor:
    """Run tasks one at a time in the driver process (``--workers 0``).

    Args:
        threads: torch threads per task (None leaves the process's setting).
    """

    description = "in-process"

    def __init__(self, threads: int | None = None):
        self.threads = threads

    def run(self, tasks: list[dict[str, Any]]) -> Iterator[tuple[dict[str, Any], Outcome]]:
        """Run the tasks in order, here.

        Args:
            tasks: task dicts.

        Yields:
            ``(task, outcome)`` per task, in order (see
            :func:`~valleys.runs.sweep_task.run_task`).
        """
        for task in tasks:
            yield task, run_task(task, self.threads)

    def close(self) -> None:
        """Nothing to release."""


class LocalPool:
    """A pool of ``workers`` local processes, one task at a time each.

    Args:
        workers: number of worker processes (>= 1).
        threads: torch threads in each worker (None: cores // workers).
    """

    def __init__(self, workers: int, threads: int | None = None):
        if workers < 1:
            raise ValueError(f"LocalPool needs workers >= 1. Got {workers}.")
        self.workers = workers
        self.threads = threads_per_worker(workers) if threads is None else threads
        self.description = f"local pool of {workers} process(es), {self.threads} torch thread(s) each"
        self._ctx = multiprocessing.get_context("forkserver")
        self._ctx.set_forkserver_preload(preload_modules())
        self._live: list[_Worker] = []

    def run(self, tasks: list[dict[str, Any]]) -> Iterator[tuple[dict[str, Any], Outcome]]:
        """Run the tasks on the pool's worker processes; the pool is closed at the end.

        A worker that dies without answering gives its task a failed outcome
        (:func:`dead_outcome`) and is replaced.

        Args:
            tasks: task dicts.

        Yields:
            ``(task, outcome)`` per task, in finishing order.
        """
        queue = deque(tasks)
        try:
            busy: list[_Worker] = []
            while queue and len(busy) < self.workers:
                busy.append(self._start(queue.popleft()))
            while busy:
                ready = set(wait([w.conn for w in busy] + [w.process.sentinel for w in busy]))
                for worker in list(busy):
                    if worker.conn not in ready and worker.process.sentinel not in ready:
                        continue
                    task, outcome = worker.task, worker.collect()
                    if outcome is None:  # the process died without answering
                        outcome = dead_outcome(task, worker.process.exitcode, "worker process")
                        busy.remove(worker)
                        self._live.remove(worker)
                        worker.stop()
                        if queue:
                            busy.append(self._start(queue.popleft()))
                    elif queue:
                        worker.give(queue.popleft())
                    else:
                        busy.remove(worker)
                    yield task, outcome
        finally:
            self.close()

    def close(self) -> None:
        """Stop every worker (idle ones are asked to exit, busy ones are terminated)."""
        for worker in self._live:
            worker.stop()
        self._live = []

    def _start(self, task: dict[str, Any]) -> _Worker:
        worker = _Worker(self._ctx, self.threads)
        self._live.append(worker)
        worker.give(task)
        return worker


class _Worker:
    """One worker process and the pipe to it."""

    def __init__(self, ctx, threads: int):
        self.conn, child = ctx.Pipe()
        self.process = ctx.Process(target=_worker_main, args=(child, threads), daemon=True,
                                   name="valleys-sweep-worker")
        self.process.start()
        child.close()
        self.task: dict[str, Any] = {}

    def give(self, task: dict[str, Any]) -> None:
        self.task = task
        try:
            self.conn.send(task)
        except (BrokenPipeError, EOFError, OSError):
            pass  # the process died; its sentinel tells the pool

    def collect(self) -> Outcome | None:
        try:
            if self.conn.poll():
                return self.conn.recv()
        except (EOFError, OSError):
            pass
        self.process.join(timeout=5)
        return None

    def stop(self) -> None:
        try:
            self.conn.send(None)
        except (BrokenPipeError, EOFError, OSError):
            pass
        self.process.join(timeout=0.5)
        if self.process.is_alive():
            self.process.terminate()
            self.process.join(timeout=5)
        if self.process.is_alive():
            self.process.kill()
            self.process.join(timeout=5)
        self.conn.close()


def _worker_main(conn, threads: int) -> None:
    """A worker: set the torch threads, then run tasks until told to stop or orphaned.

    Ctrl-C reaches the whole process group; workers ignore it and let the driver record
    the sweep as interrupted and stop them.
    """
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    os.environ["OMP_NUM_THREADS"] = str(threads)
    import torch

    torch.set_num_threads(threads)
    while True:
        try:
            task = conn.recv()
        except (EOFError, OSError):
            return  # the driver is gone
        if task is None:
            return
        outcome = run_task(task)
        try:
            conn.send(outcome)
        except (BrokenPipeError, EOFError, OSError):
            return


class DaskExecutor:
    """Run tasks on a Dask ``distributed`` cluster.

    A task whose future is cancelled, or that ends while the client is no longer
    connected, was lost with the scheduler, not failed: it is not yielded (its catalogue
    row stays pending), and once every future has ended :class:`SchedulerLostError` is
    raised, so that the same command resumes the sweep.

    Args:
        client: a connected ``distributed.Client``.
        threads: torch threads per task (None: the worker's own setting; start workers
            with ``--nthreads 1`` and ``OMP_NUM_THREADS`` to control them).
        close_client: close the client when the sweep ends.
    """

    def __init__(self, client, threads: int | None = None, close_client: bool = True):
        self.client = client
        self.threads = threads
        self.close_client = close_client
        self.address = client.scheduler.address
        self.description = f"Dask scheduler {self.address}"

    def run(self, tasks: list[dict[str, Any]]) -> Iterator[tuple[dict[str, Any], Outcome]]:
        """Submit every task and yield ``(task, outcome)`` as they finish.

        Args:
            tasks: task dicts (:meth:`~valleys.runs.sweep_spec.Task.to_dict`, with their runner).

        Yields:
            ``(task, outcome)`` per finished task, in finishing order; the outcome as of
            :func:`~valleys.runs.sweep_task.run_task`.

        Raises:
            SchedulerLostError: the scheduler went away before every task finished.
        """
        from distributed import as_completed

        from .sweep_spec import Task

        tag = uuid.uuid4().hex[:8]
        futures = {}
        lost = 0
        with quiet_distributed_logs():
            for task in tasks:
                key = f"valleys-task-{Task.from_dict(task).key}-{tag}"
                futures[self.client.submit(run_task, task, self.threads, key=key,
                                           pure=False)] = task
            try:
                raised = []  # decided once every future has ended: the client may notice a
                for future in as_completed(list(futures), loop=self.client.loop):  # lost scheduler late
                    try:
                        outcome = future.result()
                    except Exception as exc:  # KilledWorker and friends: the worker died
                        raised.append((future, exc))
                        continue
                    yield futures[future], outcome
                gone = any(self._lost(future) for future, _ in raised)
                for future, exc in raised:
                    if gone and type(exc).__name__ != "KilledWorker":
                        lost += 1
                        continue
                    yield futures[future], _dask_failure(futures[future], exc)
            finally:
                for future in futures:
                    future.release()
                self.close()
        if lost:
            msg = (f"Lost the Dask scheduler at {self.address}: {lost} of {len(tasks)} task(s) "
                   "did not finish and are stored as not run. Run the same command again to "
                   "resume them (with a running scheduler, or without --scheduler to run here).")
            raise SchedulerLostError(msg)

    def _lost(self, future) -> bool:
        """Whether ``future`` ended because the scheduler went away (not by its task)."""
        return future.cancelled() or self.client.status != "running"

    def close(self) -> None:
        """Close the client if this executor owns it (once; a scheduler that went away is
        ignored).
        """
        if self.close_client:
            with quiet_distributed_logs():
                try:
                    self.client.close()
                except Exception:  # a scheduler that went away cannot be closed politely
                    pass
            self.close_client = False


def _dask_failure(task: dict[str, Any], exc: Exception) -> Outcome:
    """The outcome of a task whose Dask future raised (its worker died, or it could not run)."""
    outcome = dead_outcome(task, None, "Dask worker")
    if type(exc).__name__ == "KilledWorker":
        return outcome
    return {**outcome, "error": f"{type(exc).__name__}: {exc}"}


@contextlib.contextmanager
def quiet_distributed_logs(level: int = logging.CRITICAL) -> Iterator[None]:
    """Raise the level of Dask's ``distributed`` loggers to ``level`` while the block runs.

    Connection failures and a lost scheduler are reported by valleys in one line; without
    this, ``distributed`` logs them again with tracebacks from its event-loop thread.

    Args:
        level: the lowest level let through (a logger's own higher level is kept).

    Yields:
        None; the levels are restored when the block exits.
    """
    names = ["distributed"] + [n for n in list(logging.root.manager.loggerDict)
                               if n.startswith("distributed.")]
    loggers = [logging.getLogger(n) for n in names]
    saved = [lg.level for lg in loggers]
    for lg in loggers:
        lg.setLevel(max(level, lg.level))
    try:
        yield
    finally:
        for lg, old in zip(loggers, saved, strict=True):
            lg.setLevel(old)


def connect_scheduler(address: str, timeout: float = DEFAULT_CONNECT_TIMEOUT_S, *,
                      worker_timeout: float = DEFAULT_WORKER_TIMEOUT_S,
                      on_wait: Callable[[str], None] | None = None):
    """A ``distributed.Client`` connected to the scheduler at ``address`` that has a worker.

    The address is first asked, within ``timeout`` seconds in all, whether it is a Dask
    scheduler (Dask's own handshake has no deadline: a server that accepts and says
    nothing would hang it). Then the client waits up to ``worker_timeout`` seconds for a
    first worker, calling ``on_wait`` with a one-line note if there is none yet.

    Args:
        address: the scheduler, e.g. ``tcp://host:8786``.
        timeout: seconds to wait for the scheduler to answer.
        worker_timeout: seconds to wait for at least one worker.
        on_wait: called once with a note when the scheduler has no worker yet.

    Raises:
        ValleysError: ``dask[distributed]`` is not installed.
        InvalidParameterError: ``address`` is empty.
        SchedulerUnreachableError: no scheduler answered at ``address`` within ``timeout``.
        NoWorkersError: no worker joined within ``worker_timeout``.

    Returns:
        The connected ``distributed.Client``.
    """
    if not str(address).strip():
        raise InvalidParameterError("--scheduler needs an address such as tcp://host:8786. Got "
                                    "an empty one; leave --scheduler out to run locally.")
    try:
        from distributed import Client
    except ImportError as exc:
        msg = ("--scheduler needs Dask: pip install 'valleys[dist]' (dask[distributed]). "
               f"Import failed: {exc}.")
        raise ValleysError(msg) from None
    with quiet_distributed_logs():
        _probe_scheduler(address, timeout)
        try:
            client = Client(address, timeout=timeout, set_as_default=False)
        except Exception as exc:  # it went away between the probe and the connection
            raise _unreachable(address, timeout, _reason(exc)) from None
    try:
        with quiet_distributed_logs():
            _wait_for_a_worker(client, address, timeout, worker_timeout, on_wait)
    except BaseException:
        with quiet_distributed_logs(), contextlib.suppress(Exception):
            client.close()
        raise
    return client


def _probe_scheduler(address: str, timeout: float) -> None:
    """Ask ``address`` for its identity within ``timeout`` seconds; it must be a scheduler.

    Runs in a thread of its own (with its own event loop), so it also works where the
    caller already runs an event loop.

    Raises:
        SchedulerUnreachableError: bad address, no answer in time, or not a scheduler.
    """
    result: dict[str, Any] = {}
    silent = "no Dask scheduler answered: nothing listens there, or it is not a scheduler"

    def probe() -> None:
        try:
            result["identity"] = asyncio.run(asyncio.wait_for(_identity(address, timeout), timeout))
        except TimeoutError:
            result["error"] = silent
        except Exception as exc:
            result["error"] = _reason(exc)

    thread = threading.Thread(target=probe, name="valleys-scheduler-probe", daemon=True)
    thread.start()
    thread.join(timeout + 5.0)  # wait_for ends the probe at ``timeout``; this is a backstop
    if thread.is_alive():
        result["error"] = silent
    if "error" in result:
        raise _unreachable(address, timeout, result["error"])
    kind = result["identity"].get("type") if isinstance(result["identity"], dict) else None
    if kind != "Scheduler":
        msg = (f"{address} is a Dask {kind or 'server'}, not a scheduler. Give the scheduler's "
               "address (tcp://host:8786).")
        raise SchedulerUnreachableError(msg)


async def _identity(address: str, timeout: float) -> Any:
    """The ``identity`` reply of the Dask server at ``address``."""
    from distributed.comm import connect
    from distributed.security import Security

    comm = await connect(address, timeout=timeout, **Security().get_connection_args("client"))
    try:
        await comm.write({"op": "identity", "reply": True})
        return await comm.read()
    finally:
        comm.abort()


def _wait_for_a_worker(client, address: str, connect_timeout: float, timeout: float,
                       on_wait: Callable[[str], None] | None) -> None:
    """Return once the scheduler has a worker; at most ``timeout`` seconds.

    Raises:
        NoWorkersError: none joined in time.
        SchedulerUnreachableError: the scheduler went away while we waited.
    """
    deadline = time.monotonic() + timeout
    told = False
    while not _workers(client, address, connect_timeout):
        if not told:
            if on_wait is not None:
                on_wait(f"waiting up to {timeout:g} s for a worker to join the Dask scheduler at "
                        f"{address} (--worker-timeout)")
            told = True
        if time.monotonic() >= deadline:
            msg = (f"The Dask scheduler at {address} has no workers after {timeout:g} s. Start "
                   f"some with 'dask worker {address}', or wait longer with --worker-timeout.")
            raise NoWorkersError(msg)
        time.sleep(_WORKER_POLL_S)


def _workers(client, address: str, timeout: float) -> dict:
    """The scheduler's workers (address -> threads), asked afresh."""
    try:
        return client.nthreads()
    except OSError as exc:  # CommClosedError and friends
        raise _unreachable(address, timeout, _reason(exc)) from None


def _reason(exc: BaseException) -> str:
    return " ".join(str(exc).split()) or type(exc).__name__


def _unreachable(address: str, timeout: float, reason: str) -> SchedulerUnreachableError:
    msg = (f"Cannot reach the Dask scheduler at {address} within {timeout:g} s ({reason}). "
           "Start one with 'dask scheduler' and check the address (tcp://host:8786).")
    return SchedulerUnreachableError(msg)
