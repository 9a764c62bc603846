"""Extraction on a Dask cluster: connect, check every machine can run our code, submit, watch.

Reads and writes no files; :func:`extractor.run_chunks` calls :func:`run_tasks` for
``backend="dask"``, and only the calling process writes results (CSV or database).

What a cluster run guarantees, whatever goes wrong on the cluster:

* **It ends.** A scheduler that cannot be reached, a scheduler or worker that cannot
  import the toolkit, no worker at all, a scheduler that refuses the tasks or goes away:
  each ends the run within ``timeout`` seconds (``--cluster-timeout``, default 60) with a
  one-line :class:`~va_utils.EmoTagError` that names the cause and the fix. The first two
  are found before anything is submitted, by a probe sent to every machine.
* **It carries on with the workers it has.** Workers that cannot import the toolkit (or
  run a different version of the extractor) are named in a warning and get no tasks while
  the others work; a worker that dies has its tasks rerun elsewhere by the scheduler, and
  a chunk of files whose workers keep dying becomes error rows (the batch goes on).
* **Nothing written is lost.** Results come back to the caller one chunk at a time and
  are written there as they arrive; after an error or Ctrl-C the pending tasks are
  cancelled and a re-run resumes from what was stored.

Example::

    >>> from va_cluster import ClusterSpec
    >>> ClusterSpec.of("tcp://10.0.0.5:8786").timeout
    60.0
"""
from __future__ import annotations

import dataclasses
import hashlib
import time
from pathlib import Path

from va_utils import EmoTagError, log

DEFAULT_TIMEOUT = 60.0
#: What a machine of the cluster must import: the task functions and what they unpickle.
PROBE_MODULES = ("extractor", "essentia_engine", "va_yamnet", "va_psychoacoustics", "va_metadata", "va_decode")
#: Sources whose bytes decide the features; every worker must run the same ones.
_FEATURE_SOURCES = ("essentia_engine.py", "extractor.py", "va_yamnet.py", "va_psychoacoustics.py", "va_decode.py")
_FIX = ("install the toolkit there (pip install --pre <checkout>, see docs/LIBRARY.md), "
        "or start it with PYTHONPATH=<checkout>")


@dataclasses.dataclass(frozen=True)
class ClusterSpec:
    """Where to run: a scheduler address (None: a local cluster) and how long to wait for it."""

    address: str | None = None
    timeout: float = DEFAULT_TIMEOUT

    @classmethod
    def of(cls, scheduler) -> "ClusterSpec":
        """A spec from a spec, an address string or None."""
        if isinstance(scheduler, cls):
            return scheduler
        return cls(address=scheduler or None)


def feature_fingerprint() -> str:
    """Hash of the sources that decide the features, and of Essentia's version (this machine)."""
    import importlib
    h = hashlib.sha256()
    for name in _FEATURE_SOURCES:
        mod = importlib.import_module(Path(name).stem)
        h.update(Path(mod.__file__).read_bytes())
    import essentia
    h.update(essentia.__version__.encode())
    return h.hexdigest()[:16]


def _probe(modules, sources):
    """Sent by value to the scheduler and workers: can they import our code, and which version.

    Its ``__module__`` is set to ``__main__`` below so that cloudpickle ships the code
    itself: a function pickled by reference would fail to unpickle exactly where our
    modules are missing, which is what this finds out.
    """
    import hashlib as _h
    import importlib
    import pathlib
    out = {"errors": {}, "fingerprint": None}
    mods = {}
    for name in modules:
        try:
            mods[name] = importlib.import_module(name)
        except BaseException as exc:  # noqa: BLE001 - report anything, raise nothing
            out["errors"][name] = f"{type(exc).__name__}: {exc}".split("\n")[0]
    if not out["errors"]:
        try:
            h = _h.sha256()
            for src in sources:
                mod = importlib.import_module(pathlib.Path(src).stem)
                h.update(pathlib.Path(mod.__file__).read_bytes())
            import essentia
            h.update(essentia.__version__.encode())
            out["fingerprint"] = h.hexdigest()[:16]
        except BaseException as exc:  # noqa: BLE001
            out["errors"]["fingerprint"] = f"{type(exc).__name__}: {exc}"
    return out


def _known_keys(keys, dask_scheduler=None):
    """Sent by value to the scheduler: how many of ``keys`` it holds (0: it refused the graph)."""
    return sum(1 for k in keys if k in dask_scheduler.tasks)


_probe.__module__ = "__main__"
_known_keys.__module__ = "__main__"


def connect(spec: ClusterSpec, jobs: int):
    """``(client, local_cluster or None)``; a local cluster of ``jobs`` processes without an address."""
    try:
        from dask.distributed import Client, LocalCluster
    except ImportError:
        raise EmoTagError("the Dask backend needs dask[distributed]: pip install 'dask[distributed]'") from None
    if spec.address is None:
        cluster = LocalCluster(n_workers=max(1, jobs), threads_per_worker=1, processes=True, dashboard_address=None)
        return Client(cluster), cluster
    try:
        return Client(spec.address, timeout=f"{spec.timeout:g}s"), None
    except (OSError, TimeoutError) as exc:
        raise EmoTagError(f"cannot reach the Dask scheduler {spec.address} within {spec.timeout:g} s "
                          f"({type(exc).__name__}: {str(exc).splitlines()[0] if str(exc) else 'no answer'}); "
                          "is `dask scheduler` running there and its port open? (--cluster-timeout)") from None


def _probe_workers(client, addresses=None) -> tuple[list[str], list[str]]:
    """``(good, bad)``: the workers that import our code at this machine's extractor version."""
    here = feature_fingerprint()
    good, bad = [], []
    for addr, r in client.run(_probe, PROBE_MODULES, _FEATURE_SOURCES, workers=addresses, on_error="return").items():
        if isinstance(r, BaseException):
            bad.append(f"{addr} ({type(r).__name__}: {r})")
        elif r["errors"]:
            name, err = next(iter(r["errors"].items()))
            bad.append(f"{addr} cannot import {name} ({err})")
        elif r["fingerprint"] != here:
            bad.append(f"{addr} runs another version of the extractor (fingerprint {r['fingerprint']}, "
                       f"here {here}): its features would not match")
        else:
            good.append(addr)
    for b in bad:
        log.warning("Dask worker %s; it gets no tasks (%s)", b, _FIX)
    return good, [b.split(" ", 1)[0] for b in bad]


def check_cluster(client, spec: ClusterSpec) -> tuple[list[str], list[str]]:
    """``(good, bad)`` worker addresses; raise if the scheduler or every worker cannot run our tasks."""
    where = spec.address or "the local cluster"
    res = client.run_on_scheduler(_probe, PROBE_MODULES, _FEATURE_SOURCES)
    if res["errors"]:
        name, err = next(iter(res["errors"].items()))
        raise EmoTagError(f"the Dask scheduler {where} cannot import {name} ({err}), so it cannot unpickle "
                          f"our tasks: {_FIX} on the scheduler's machine")
    try:
        client.wait_for_workers(1, timeout=spec.timeout)
    except (TimeoutError, OSError):
        raise EmoTagError(f"no Dask worker joined the scheduler {where} within {spec.timeout:g} s: start some "
                          f"with `dask worker {spec.address or 'ADDRESS'} --nworkers 2 --nthreads 1` "
                          "(--cluster-timeout)") from None
    good, bad = _probe_workers(client)
    if not good:
        raise EmoTagError(f"no Dask worker of {where} can run our tasks ({len(bad)} tried; see the warnings): "
                          f"{_FIX} on every worker's machine")
    return good, bad


def _workers_now(client) -> list[str]:
    try:
        info = client.scheduler_info(n_workers=-1)
    except TypeError:  # older distributed: no n_workers argument
        info = client.scheduler_info()
    return list(info["workers"])


def run_tasks(func, chunks, *, args=(), spec: ClusterSpec, jobs: int = 1, on_failure=None):
    """Yield ``func(chunk, *args)`` for every chunk, computed on the cluster, in completion order.

    ``on_failure(chunk, message)`` turns a chunk whose task failed for good (its workers
    died ``distributed.scheduler.allowed-failures`` times, or it raised) into results;
    without it the failure is raised.
    """
    from dask.distributed import wait
    client, cluster = connect(spec, jobs)
    pending = {}
    try:
        good, bad = check_cluster(client, spec)
        where = spec.address or "the local cluster"

        def submit(chunk):
            fut = client.submit(func, chunk, *args, pure=False, workers=list(good), allow_other_workers=False)
            pending[fut] = chunk

        for c in chunks:
            submit(c)
        submitted = last_alive = time.monotonic()
        accepted = False
        while pending:
            try:
                done, _ = wait(list(pending), timeout=min(5.0, spec.timeout), return_when="FIRST_COMPLETED")
            except TimeoutError:    # nothing finished in this interval: look at the cluster
                done = ()
            now = time.monotonic()
            for fut in done:
                chunk = pending.pop(fut)
                accepted = True
                if fut.status == "finished":
                    yield fut.result()
                    continue
                exc = fut.exception()
                text = str(exc).splitlines()[0] if str(exc) else ""
                msg = f"failed on the Dask cluster ({type(exc).__name__}: {text})"
                fut.release()
                if on_failure is None:
                    raise EmoTagError(msg)
                yield on_failure(chunk, msg)
            if not pending:
                break
            if client.status not in ("running", "connecting"):
                raise EmoTagError(f"lost the Dask scheduler {where} ({client.status}); the results so far are "
                                  "kept: re-run the same command to resume")
            if not accepted and now - submitted > spec.timeout:
                try:
                    known = client.run_on_scheduler(_known_keys, [f.key for f in pending])
                except (OSError, TimeoutError):
                    known = 0
                if not known:
                    raise EmoTagError(f"the Dask scheduler {where} did not accept the tasks within "
                                      f"{spec.timeout:g} s (its log says why; usually it cannot import our "
                                      f"code: {_FIX})")
                accepted = True
            try:
                present = _workers_now(client)
            except (OSError, TimeoutError):
                present = []
            new = [w for w in present if w not in good and w not in bad]
            if new:     # a worker joined, or a dead one was restarted by its nanny at a new address
                ok, no = _probe_workers(client, new)
                bad.extend(no)
                if ok:
                    good.extend(ok)
                    busy = {k for keys in client.processing().values() for k in keys}
                    for fut in [f for f in pending if f.key not in busy]:
                        chunk = pending.pop(fut)
                        fut.cancel()
                        submit(chunk)
            alive = set(present) & set(good)
            if alive:
                last_alive = now
            elif now - last_alive > spec.timeout:
                raise EmoTagError(f"every Dask worker of {where} that could run our tasks is gone (none for "
                                  f"{spec.timeout:g} s); the results so far are kept: start workers and "
                                  "re-run the same command to resume")
    finally:
        if pending:
            try:
                client.cancel(list(pending))
            except Exception:  # noqa: BLE001 - closing anyway
                pass
        client.close()
        if cluster is not None:
            cluster.close()
