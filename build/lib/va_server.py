"""The HTTP API and the web app: FastAPI over the library, the query helpers and the models.

Reads the SQLite library (one read-only connection per request), the models folder, the
web app's files in ``web/`` and Swagger UI's files (the ``fastapi-offline`` package, so
the docs page needs no CDN). Writes uploads to a temporary folder (removed when the
request ends, whatever happens), kept uploads to ``<library folder>/uploads/``, and the
database only through the library mode's writer (``va_library.analyse_library``, for
scans and kept uploads) and ``va_db``'s small writers (feedback, jobs). ``serve.py`` is
its command line.

The parts:

* :class:`ServerConfig`: the database, the models, the token, CORS, the upload limit,
  the analysis timeout.
* :class:`Analyser`: a pool of worker processes that load the models once and analyse
  uploads (``extractor.extract_batch`` with its per-file timeout, ``va_inference.ModelSet``),
  so that the event loop keeps answering searches while files are analysed.
* :class:`Scanner`: background library scans, one at a time, with progress stored in the
  ``jobs`` table; jobs left queued or running by a stopped server are resumed at start.
* :func:`create_app`: the FastAPI application, its routes (``/api/...``), the web app
  (``/``), the map (``/map``) and the offline API docs (``/docs``).

Every search goes through ``va_query`` (``find``, ``like``, ``moments``, ``recommend``):
there is no second implementation of a query here.
"""
from __future__ import annotations

import asyncio
import dataclasses
import hmac
import json
import logging
import os
import shutil
import tempfile
import threading
import time
from pathlib import Path
from urllib.parse import quote

from fastapi import File, Form, Query, UploadFile  # module level: FastAPI reads the routes' annotations here

from va_utils import PROJECT_ROOT, EmoTagError, __version__

log = logging.getLogger("emotag.server")
WEB_DIR = PROJECT_ROOT / "web"
LOOPBACK = ("127.0.0.1", "localhost", "::1")
MAX_LIMIT = 1000


@dataclasses.dataclass
class ServerConfig:
    """What the server serves and how."""

    db: Path
    models_dir: Path
    token: str | None = None
    cors: tuple = ()
    max_upload_mb: float = 200.0
    analysis_timeout: float = 120.0          # seconds per uploaded file
    analysis_workers: int = 1
    scan_jobs: int = 1                       # worker processes of a library scan
    trust_model: bool = False                # --trust-model: load models no MANIFEST.json vouches for

    @property
    def uploads_dir(self) -> Path:
        return Path(self.db).resolve().parent / "uploads"


class ApiError(Exception):
    """An error the client caused or should see: an HTTP status and a one-line message."""

    def __init__(self, status: int, message: str):
        super().__init__(message)
        self.status, self.message = status, message.split("\n")[0]


# ----------------------------------------------------------------------------- analysis workers
_WORKER: dict = {}


def _exit_with_parent(parent: int) -> None:
    """End this worker as soon as the server that started it is gone, however it ended
    (a SIGKILLed server cannot stop its pool: without this its workers would live on)."""
    while True:
        time.sleep(0.5)
        if os.getppid() != parent:
            os._exit(0)


def _worker_init(models_dir: str, trust: bool = False, parent: int | None = None) -> None:
    import warnings
    if parent is not None:
        threading.Thread(target=_exit_with_parent, args=(parent,), name="emotag-parent-watch", daemon=True).start()
    warnings.filterwarnings("ignore")
    if trust:
        from va_io import trust_models
        trust_models(True)
    from va_inference import ModelSet
    ms = ModelSet(models_dir).load()
    ms.preload()
    _WORKER["models"] = ms
    _WORKER["descriptors"] = ms.descriptor_models()


def _worker_ping() -> bool:
    return "models" in _WORKER


def _clean(x):
    """JSON-safe scalars: NaN -> None, NumPy -> Python."""
    import numpy as np
    if isinstance(x, (np.floating, float)):
        return None if not np.isfinite(x) else float(x)
    if isinstance(x, np.integer):
        return int(x)
    if isinstance(x, np.bool_):
        return bool(x)
    return x


def _worker_analyse(path: str, name: str, segments, timeout: float, cache: bool = False) -> dict:
    """Analyse one uploaded file in a worker process; a dict, or ``{"error": ...}``. With
    ``cache``, its features go to the feature cache, where adding it to the library finds them."""
    from extractor import default_cache_dir, extract_batch
    from va_query import CONFIDENT_IN_DOMAIN
    ms = _WORKER["models"]
    (res,) = extract_batch([path], timeout=timeout, cache_dir=default_cache_dir() if cache else None)
    if not res.ok:
        return {"error": res.error.replace("(--timeout)", "(--analysis-timeout)"), "timeout": "timed out" in res.error}
    X = res.features[None, :]
    pva, scores = ms.predict(X)
    row = {k: _clean(v) for k, v in pva.iloc[0].items()}
    out = {"file": name, "sha256": res.sha256, "duration": res.duration, "sample_rate": res.sample_rate,
           "channels": res.channels, **row,
           "out_of_domain": None if row.get("in_domain") is None else bool(row["in_domain"] < CONFIDENT_IN_DOMAIN),
           "descriptor_scores": {k: _clean(v) for k, v in scores.iloc[0].items()},
           "descriptor_models": ({k: _clean(v) for k, v in ms.predict_descriptors(X).iloc[0].items()}
                                 if _WORKER["descriptors"] else {}),
           "metadata": res.metadata, "warnings": res.warnings}
    if segments:
        seg, errors = ms.predict_segments([path], window=segments[0], hop=segments[1], shas={path: res.sha256})
        if errors:
            out["warnings"] = out["warnings"] + [e["message"] for e in errors]
        keep = [c for c in seg.columns if c not in ("sha256", "path")]
        out["segments"] = [{k: _clean(v) for k, v in r.items()} for r in seg[keep].to_dict("records")]
    return {k: v if isinstance(v, (dict, list)) else _clean(v) for k, v in out.items()}


def _worker_video(path: str, name: str, timeout: float) -> dict:
    """A video reference in a worker process: its soundtrack (when it has one) as
    :func:`_worker_analyse` sees it, per window, and its face lane, shots and per-shot face
    and voice emotion (:mod:`va_faces`). The face thumbnails come back in the answer as
    small grey PNGs (data URLs); nothing of the video is stored."""
    import base64
    import io

    import va_faces
    from extractor import extract_batch
    from PIL import Image
    from va_utils import EmoTagError
    ms = _WORKER["models"]
    if not va_faces.has_video(path):
        return {"error": "no video stream: a video reference needs a picture (drop it as audio instead)"}
    out = {"file": name, "warnings": []}
    (res,) = extract_batch([path], timeout=timeout)
    seg = None
    if res.ok:
        pva, _ = ms.predict(res.features[None, :])
        out.update({"sha256": res.sha256, **{k: _clean(v) for k, v in pva.iloc[0].items()}})
        seg, errors = ms.predict_segments([path], window=3.0, hop=1.0, shas={path: res.sha256})
        out["warnings"] += [e["message"] for e in errors]
    else:
        if res.error and "timed out" in res.error:
            return {"error": res.error.replace("(--timeout)", "(--analysis-timeout)"), "timeout": True}
        out["warnings"].append(f"no soundtrack analysed ({res.error}): the picture only")
        from va_utils import sha256_file
        out["sha256"] = sha256_file(path)
    try:
        rows, summary, faces = va_faces.face_lane(path, segments=seg, thumbnails=True, sha256=out["sha256"])
    except EmoTagError as exc:
        return {"error": str(exc).replace(path, name)}
    shots = va_faces.scenes(faces, summary["duration"])
    thumbs = {}
    for k, img in summary.get("thumbnails", {}).items():
        buf = io.BytesIO()
        Image.fromarray(img).save(buf, format="PNG")
        thumbs[str(k)] = "data:image/png;base64," + base64.b64encode(buf.getvalue()).decode("ascii")
    keep = [c for c in rows.columns if c not in ("sha256", "path")]
    out.update({"duration": summary["duration"], "width": summary["width"], "height": summary["height"],
                "frames": summary["frames"], "main_track": summary["main_track"], "thumbnails": thumbs,
                "faces": [{k: _clean(v) for k, v in r.items()} for r in rows[keep].to_dict("records")],
                "segments": [] if seg is None else
                [{k: _clean(v) for k, v in r.items()} for r in
                 seg[["start", "end", "valence", "arousal", "emotion_label", "emotion_confidence", "domain"]]
                 .to_dict("records")],
                "scenes": [{k: ({kk: _clean(vv) for kk, vv in v.items()} if isinstance(v, dict) else _clean(v))
                            for k, v in sc.items()} for sc in va_faces.scene_summaries(faces, shots, seg)]})
    return out


class Analyser:
    """A pool of worker processes, each holding the models, that analyse uploads."""

    def __init__(self, cfg: ServerConfig):
        self.cfg = cfg
        self._pool = None
        self._lock = threading.Lock()

    def _make(self):
        import multiprocessing
        from concurrent.futures import ProcessPoolExecutor
        return ProcessPoolExecutor(max_workers=max(1, self.cfg.analysis_workers),
                                   mp_context=multiprocessing.get_context("spawn"),
                                   initializer=_worker_init,
                                   initargs=(str(self.cfg.models_dir), self.cfg.trust_model, os.getpid()))

    def start(self) -> None:
        with self._lock:
            if self._pool is None:
                self._pool = self._make()
        # load the models now (in the workers), not on the first upload
        futures = [self._pool.submit(_worker_ping) for _ in range(max(1, self.cfg.analysis_workers))]
        for f in futures:
            f.result(timeout=300)

    def stop(self) -> None:
        """Stop the workers now, busy or not (an analysis in flight is abandoned)."""
        with self._lock:
            pool, self._pool = self._pool, None
        if pool is not None:
            procs = list(getattr(pool, "_processes", {}).values())
            pool.shutdown(wait=False, cancel_futures=True)
            for p in procs:
                p.terminate()
            for p in procs:
                p.join(timeout=5)

    async def analyse(self, path: str, name: str, segments=None, *, keep: bool = False) -> dict:
        return await self._run(name, _worker_analyse, path, name, segments, self.cfg.analysis_timeout, keep)

    async def video(self, path: str, name: str) -> dict:
        return await self._run(name, _worker_video, path, name, self.cfg.analysis_timeout)

    async def _run(self, name, fn, *args) -> dict:
        from concurrent.futures.process import BrokenProcessPool
        with self._lock:
            if self._pool is None:
                self._pool = self._make()
            pool = self._pool
        fut = pool.submit(fn, *args)
        try:
            out = await asyncio.wait_for(asyncio.wrap_future(fut), timeout=self.cfg.analysis_timeout + 60)
        except asyncio.TimeoutError:
            raise ApiError(504, f"{name}: analysis timed out after {self.cfg.analysis_timeout:g} s") from None
        except BrokenProcessPool:
            with self._lock:                       # a worker died (a codec crash): start a fresh pool
                if self._pool is pool:
                    self._pool = None
            raise ApiError(500, f"{name}: the analysis worker stopped unexpectedly; try again") from None
        if "error" in out:
            if out.get("timeout"):
                raise ApiError(504, f"{name}: {out['error']}")
            raise ApiError(422, f"{name}: {out['error']}")
        return out


# ----------------------------------------------------------------------------- background scans
class Scanner:
    """Library scans in a background thread, one at a time, through ``va_library.analyse_library``."""

    def __init__(self, cfg: ServerConfig):
        self.cfg = cfg
        self._queue: list[int] = []
        self._cv = threading.Condition()
        self._thread = None
        self._stop = False

    def start(self) -> None:
        from va_db import connect, job_update, jobs
        conn = connect(self.cfg.db)
        try:
            pending = sorted(j["id"] for j in jobs(conn, status=("queued", "running")))
            for j in pending:                              # a stopped server's jobs: resume them
                job_update(conn, j, status="queued")
        finally:
            conn.close()
        with self._cv:
            self._queue.extend(pending)
        self._thread = threading.Thread(target=self._run, name="emotag-scanner", daemon=True)
        self._thread.start()

    def stop(self) -> None:
        with self._cv:
            self._stop = True
            self._cv.notify_all()

    def submit(self, folder: str, segments=None) -> int:
        from va_db import connect, job_create
        conn = connect(self.cfg.db)
        try:
            job = job_create(conn, "scan", folder, {"segments": segments})
        finally:
            conn.close()
        with self._cv:
            self._queue.append(job)
            self._cv.notify_all()
        return job

    def _run(self) -> None:
        while True:
            with self._cv:
                while not self._queue and not self._stop:
                    self._cv.wait()
                if self._stop:
                    return
                job = self._queue.pop(0)
            try:
                self._scan(job)
            except Exception:  # noqa: BLE001  a failed job is recorded; the thread lives on
                log.exception("scan job %s failed", job)

    def _scan(self, job: int) -> None:
        from va_db import connect, job_update, jobs
        from va_library import analyse_library
        conn = connect(self.cfg.db)
        try:
            (j,) = jobs(conn, job)
            job_update(conn, job, status="running", error=None)
            last = [0.0]

            def progress(done, total, summary):
                now = time.monotonic()
                if now - last[0] >= 0.2 or done == total:
                    last[0] = now
                    job_update(conn, job, done=done, total=total,
                               failures=[[p, m] for p, m in summary.failures[:200]])

            try:
                seg = j["params"].get("segments")
                summary = analyse_library([j["folder"]], db=self.cfg.db, models_dir=self.cfg.models_dir,
                                          jobs=self.cfg.scan_jobs, batch_size=20, progress=progress,
                                          timeout=self.cfg.analysis_timeout, segments=tuple(seg) if seg else None)
                job_update(conn, job, status="done", done=summary.scanned, total=summary.scanned,
                           failures=[[p, m] for p, m in summary.failures[:200]])
            except Exception as exc:  # noqa: BLE001
                job_update(conn, job, status="failed", error=f"{type(exc).__name__}: {exc}".split("\n")[0])
        finally:
            conn.close()


# ----------------------------------------------------------------------------- helpers
_LOCAL = threading.local()


def _read_conn(cfg: ServerConfig):
    """This worker thread's read-only connection to the library, opened once per thread and
    kept (its page cache stays warm); callers do not close it."""
    from va_query import open_library
    key = str(Path(cfg.db).resolve())
    cached = getattr(_LOCAL, "conns", {}).get(key)
    if cached is not None:
        return cached
    try:
        conn = open_library(cfg.db)
    except EmoTagError as exc:
        raise ApiError(503, str(exc)) from None
    conn.execute("PRAGMA query_only = ON")
    conn.execute("PRAGMA cache_size = -65536")           # 64 MB of pages per reading thread
    conn.execute("PRAGMA mmap_size = 268435456")
    if not hasattr(_LOCAL, "conns"):
        _LOCAL.conns = {}
    _LOCAL.conns[key] = conn
    return conn


def library_version(db) -> tuple:
    """Changes whenever the library does: the modification time and size of the database
    and of its write-ahead log (stat-ed: microseconds)."""
    out = []
    for f in (Path(db), Path(str(db) + "-wal")):
        try:
            st = os.stat(f)
            out += [st.st_mtime_ns, st.st_size]
        except OSError:
            out += [0, 0]
    return tuple(out)


class ResultCache:
    """Recent search answers (JSON bytes) keyed by their query, dropped whenever the library
    changes (:func:`library_version`, checked per lookup).
    Repeated searches (a label, a descriptor threshold, the first page) then cost no SQL."""

    def __init__(self, db, size: int = 2048):
        from collections import OrderedDict
        self.db = db
        self.size, self.hits, self.misses = size, 0, 0
        self._d: OrderedDict = OrderedDict()
        self._version = None
        self._lock = threading.Lock()

    def get(self, key):
        v = library_version(self.db)
        with self._lock:
            if v != self._version:
                self._d.clear()
                self._version = v
            hit = self._d.get(key)
            if hit is not None:
                self._d.move_to_end(key)
                self.hits += 1
            else:
                self.misses += 1
            return hit, v

    def put(self, key, version, value) -> None:
        with self._lock:
            if version == self._version:
                self._d[key] = value
                if len(self._d) > self.size:
                    self._d.popitem(last=False)


def _file_paths(conn, file_id: int) -> list[str]:
    return [r[0] for r in conn.execute("SELECT path FROM audio_paths WHERE file_id = ? ORDER BY path", (file_id,))]


def servable(conn, path: str) -> str | None:
    """The real path of ``path`` when it may be served, else None.

    Served: a path the library holds, exactly as stored (so ``..`` and absolute paths
    outside it are not), that is a regular file whose real location is the folder it is
    listed in (so a symbolic link from a library folder to a file elsewhere is not).
    """
    if not path or "\x00" in path:
        return None
    if conn.execute("SELECT 1 FROM audio_paths WHERE path = ?", (path,)).fetchone() is None:
        return None
    real = os.path.realpath(path)
    if not os.path.isfile(real) or os.path.dirname(real) != os.path.realpath(os.path.dirname(os.path.abspath(path))):
        return None
    return real


def _pairs(values, what: str) -> list:
    out = []
    for v in values:
        name, sep, lo = str(v).rpartition(":")
        if not sep:
            raise ApiError(400, f"{what} {v!r}: expected NAME:MIN, e.g. soothing:0.7")
        try:
            out.append((name, float(lo)))
        except ValueError:
            raise ApiError(400, f"{what} {v!r}: MIN must be a number") from None
    return out


def _point(v: str | None):
    if v is None or v == "":
        return None
    try:
        a, b = (float(x) for x in str(v).split(","))
    except ValueError:
        raise ApiError(400, f"near {v!r}: expected V,A, e.g. 0.5,-0.5") from None
    if not (-1 <= a <= 1 and -1 <= b <= 1):
        raise ApiError(400, f"near {v!r}: valence and arousal must be in -1..1")
    return a, b


def _segments_param(v: str | None):
    if not v:
        return None
    try:
        w, h = (float(x) for x in v.split(","))
    except ValueError:
        raise ApiError(400, f"segments {v!r}: expected WINDOW,HOP in seconds, e.g. 3,1") from None
    if not (w > 0 and h > 0):
        raise ApiError(400, f"segments {v!r}: window and hop must be positive")
    return w, h


# ----------------------------------------------------------------------------- the application
def create_app(cfg: ServerConfig, *, start_workers: bool = True):
    """The FastAPI application over ``cfg``."""
    from fastapi import FastAPI
    from fastapi.exceptions import RequestValidationError
    from fastapi.middleware.gzip import GZipMiddleware
    from fastapi.openapi.docs import get_swagger_ui_html
    from fastapi.responses import FileResponse, HTMLResponse, JSONResponse, PlainTextResponse, Response
    from fastapi.staticfiles import StaticFiles
    from starlette.exceptions import HTTPException as StarletteHTTPException

    analyser, scanner = Analyser(cfg), Scanner(cfg)
    map_cache: dict = {}
    results = ResultCache(cfg.db)

    from contextlib import asynccontextmanager

    @asynccontextmanager
    async def lifespan(app):
        from va_db import connect
        connect(cfg.db).close()                     # create or migrate the library first
        scanner.start()
        # build the map page in the background, so that the first visit to the map tab is quick
        threading.Thread(target=lambda: _quietly(_map_html, cfg, map_cache), name="emotag-map",
                         daemon=True).start()
        if start_workers:
            await asyncio.get_running_loop().run_in_executor(None, analyser.start)
        yield
        scanner.stop()
        analyser.stop()

    app = FastAPI(title="emotag", version=__version__, lifespan=lifespan, docs_url=None, redoc_url=None,
                  description="Valence, arousal, emotion and descriptors of sounds, and a library searchable by "
                              "feeling. Errors are JSON: `{\"error\": \"one line\"}`.")
    app.state.cfg, app.state.analyser, app.state.scanner = cfg, analyser, scanner

    # --- errors: JSON with one line
    def err(status, message):
        return JSONResponse({"error": str(message).split("\n")[0]}, status_code=status)

    @app.exception_handler(ApiError)
    async def _api_error(request, exc: ApiError):
        return err(exc.status, exc.message)

    @app.exception_handler(EmoTagError)
    async def _emotag_error(request, exc):
        return err(400, str(exc))

    @app.exception_handler(LookupError)
    async def _lookup_error(request, exc):
        return err(404, exc.args[0] if exc.args else "not found")

    @app.exception_handler(RequestValidationError)
    async def _validation(request, exc):
        first = exc.errors()[0] if exc.errors() else {}
        where = ".".join(str(x) for x in first.get("loc", ()) if x not in ("body", "query"))
        return err(422 if request.method == "GET" else 400, f"{where or 'request'}: {first.get('msg', 'invalid')}")

    @app.exception_handler(StarletteHTTPException)
    async def _http(request, exc):
        return err(exc.status_code, exc.detail if isinstance(exc.detail, str) else "error")

    @app.exception_handler(Exception)
    async def _unexpected(request, exc):
        log.exception("unexpected error on %s", request.url.path)
        return err(500, f"internal error ({type(exc).__name__})")

    # --- middleware: upload size, token, CORS, gzip (added last = outermost)
    app.add_middleware(GZipMiddleware, minimum_size=2048)
    if cfg.cors:
        from fastapi.middleware.cors import CORSMiddleware
        app.add_middleware(CORSMiddleware, allow_origins=list(cfg.cors), allow_methods=["*"],
                           allow_headers=["Authorization", "Content-Type", "Range"])
    app.add_middleware(BodyLimit, limit=int(cfg.max_upload_mb * 2**20))
    if cfg.token:
        app.add_middleware(TokenAuth, token=cfg.token)

    # --- static: the web app, Swagger UI's files
    import fastapi_offline                          # Swagger UI 5 as package data: no CDN
    app.mount("/static/swagger", StaticFiles(directory=str(Path(fastapi_offline.__file__).parent / "static")),
              name="swagger")
    app.mount("/static", StaticFiles(directory=str(WEB_DIR)), name="web")

    @app.get("/docs", include_in_schema=False)
    async def docs():
        return get_swagger_ui_html(openapi_url="/openapi.json", title="emotag API",
                                   swagger_js_url="/static/swagger/swagger-ui-bundle.js",
                                   swagger_css_url="/static/swagger/swagger-ui.css",
                                   swagger_favicon_url="/static/swagger/favicon.png")

    @app.get("/", include_in_schema=False)
    async def index():
        return FileResponse(WEB_DIR / "index.html", media_type="text/html")

    @app.get("/map", include_in_schema=False)
    def map_page():
        """The library's map (``va_mapview``), playing files through ``/api/audio``."""
        return HTMLResponse(_map_html(cfg, map_cache))

    # --- API
    @app.get("/api/health", tags=["library"])
    def health():
        """Server and library status."""
        conn = _read_conn(cfg)
        n = conn.execute("SELECT COUNT(*) FROM audio_files").fetchone()[0]
        pred = conn.execute("SELECT COUNT(*) FROM predictions").fetchone()[0]
        return {"status": "ok", "version": __version__, "files": n, "predictions": pred,
                "search_cache": {"hits": results.hits, "misses": results.misses}}

    @app.get("/api/vocabulary", tags=["library"])
    def vocabulary():
        """The descriptor words, emotion labels and folders the library holds (for forms)."""
        from va_query import descriptor_names, label_names
        conn = _read_conn(cfg)
        folders = sorted({os.path.dirname(p) for (p,) in conn.execute("SELECT path FROM audio_files")})
        return {"descriptors": descriptor_names(conn), "labels": label_names(conn), "folders": folders[:5000]}

    def _search(conn, *, near, descriptor, label, under, cls, domain, text, category, sort, confident, like,
                limit, offset):
        from va_query import CONFIDENT_IN_DOMAIN, find
        from va_query import like as like_files
        if limit < 1 or limit > MAX_LIMIT:
            raise ApiError(400, f"limit must be in 1..{MAX_LIMIT}, got {limit}")
        if offset < 0:
            raise ApiError(400, f"offset must be at least 0, got {offset}")
        kw = dict(descriptors=_pairs(descriptor, "descriptor"), labels=list(label), under=under or None,
                  classes=list(cls), domain=domain or None, text=text or None, category=category or None,
                  min_in_domain=CONFIDENT_IN_DOMAIN if confident else None)
        if like is not None:
            if near or sort:
                raise ApiError(400, "like sets the order; use it without near or sort")
            paths = _file_paths(conn, like)
            if not paths:
                raise ApiError(404, f"no file with id {like} in the library")
            rows = like_files(conn, cfg.db, paths[0], limit=offset + limit, **kw)
        else:
            if sort and (near or kw["descriptors"]):
                raise ApiError(400, "sort orders the other filters' results; near and descriptor set their own order")
            rows = find(conn, near=_point(near), sort=sort or None, limit=offset + limit, with_ids=True, **kw)
        return rows[offset:offset + limit]

    search_doc = ("near: `V,A`; descriptor: `NAME:MIN` (repeat: all must hold); label (repeat: any of); "
                  "under: a folder; class: a YAMNet class (repeat); domain: speech, music, vocal or other; text: "
                  "an FTS5 query over names and metadata; category: a UCS category; sort: arousal, valence, "
                  "-arousal, -valence; like: a file id (sounds like it); limit and offset page the results.")

    @app.get("/api/search", tags=["search"], description=search_doc)
    def search(near: str | None = None, descriptor: list[str] = Query(default=[]),
               label: list[str] = Query(default=[]), under: str | None = None,
               cls: list[str] = Query(default=[], alias="class"), domain: str | None = None,
               text: str | None = None, category: str | None = None, sort: str | None = None,
               confident: bool = False, like: int | None = None, limit: int = 50, offset: int = 0):
        """Files of the library that match every filter, best first (``query_library.py``'s modes)."""
        key = (near, tuple(descriptor), tuple(label), under, tuple(cls), domain, text, category, sort, confident,
               like, limit, offset)
        body, version = results.get(key)
        if body is None:
            conn = _read_conn(cfg)
            rows = _search(conn, near=near, descriptor=descriptor, label=label, under=under, cls=cls,
                           domain=domain, text=text, category=category, sort=sort, confident=confident,
                           like=like, limit=limit, offset=offset)
            body = json.dumps({"offset": offset, "limit": limit, "count": len(rows), "results": rows},
                              allow_nan=False, default=str).encode()
            results.put(key, version, body)
        return Response(body, media_type="application/json")

    @app.get("/api/export.{fmt}", tags=["search"], description=search_doc)
    def export(fmt: str, near: str | None = None, descriptor: list[str] = Query(default=[]),
               label: list[str] = Query(default=[]), under: str | None = None,
               cls: list[str] = Query(default=[], alias="class"), domain: str | None = None,
               text: str | None = None, category: str | None = None, sort: str | None = None,
               confident: bool = False, like: int | None = None, limit: int = 200, offset: int = 0):
        """The same results as ``/api/search``, as an M3U playlist (``m3u``) or CSV (``csv``)."""
        from va_query import to_csv, to_m3u
        if fmt not in ("m3u", "csv"):
            raise ApiError(404, f"no export format {fmt!r}; use m3u or csv")
        conn = _read_conn(cfg)
        rows = _search(conn, near=near, descriptor=descriptor, label=label, under=under, cls=cls,
                       domain=domain, text=text, category=category, sort=sort, confident=confident, like=like,
                       limit=limit, offset=offset)
        rows = [{k: v for k, v in r.items() if k != "file_id"} for r in rows]
        body = to_m3u(rows) if fmt == "m3u" else to_csv(rows)
        media = "audio/x-mpegurl" if fmt == "m3u" else "text/csv"
        return PlainTextResponse(body, media_type=media,
                                 headers={"Content-Disposition": f'attachment; filename="emotag_results.{fmt}"'})

    @app.get("/api/moments", tags=["search"])
    def moments(arousal_above: float | None = None, arousal_below: float | None = None,
                valence_above: float | None = None, valence_below: float | None = None,
                min_duration: float = 0.0, under: str | None = None, limit: int = 50, offset: int = 0):
        """Spans within files where every window meets the thresholds (needs ``--segments``)."""
        from va_query import moments as find_moments
        if limit < 1 or limit > MAX_LIMIT or offset < 0:
            raise ApiError(400, f"limit must be in 1..{MAX_LIMIT} and offset at least 0")
        conn = _read_conn(cfg)
        rows = find_moments(conn, arousal_above=arousal_above, arousal_below=arousal_below,
                            valence_above=valence_above, valence_below=valence_below,
                            min_duration=min_duration, under=under, limit=offset + limit)
        rows = rows[offset:offset + limit]
        return {"offset": offset, "limit": limit, "count": len(rows), "results": rows}

    @app.get("/api/files/{file_id}", tags=["library"])
    def file_record(file_id: int):
        """One file: its paths, predictions, descriptor scores, sound classes, metadata and labels."""
        conn = _read_conn(cfg)
        return _record(conn, file_id)

    @app.get("/api/files/{file_id}/segments", tags=["library"])
    def file_segments(file_id: int):
        """The file's windows (start, end, valence, arousal, label, ...), in time order."""
        conn = _read_conn(cfg)
        if conn.execute("SELECT 1 FROM audio_files WHERE id = ?", (file_id,)).fetchone() is None:
            raise ApiError(404, f"no file with id {file_id} in the library")
        cols = ["start_s", "end_s", "valence", "arousal", "emotion_label", "emotion_confidence",
                "top_descriptor"]
        rows = conn.execute(f"SELECT {', '.join(cols)} FROM segments WHERE file_id = ? ORDER BY start_s",
                            (file_id,)).fetchall()
        return {"file_id": file_id, "segments": [dict(zip(cols, r)) for r in rows]}

    def _send(real: str, download: bool, name: str):
        headers = {"Content-Disposition": f"attachment; filename*=UTF-8''{quote(name)}"} if download else None
        return FileResponse(real, headers=headers)

    @app.get("/api/files/{file_id}/audio", tags=["library"])
    def file_audio(file_id: int, download: bool = False):
        """The file's audio, with HTTP range requests (seekable), or as a download."""
        conn = _read_conn(cfg)
        for p in _file_paths(conn, file_id):
            real = servable(conn, p)
            if real:
                return _send(real, download, os.path.basename(p))
        raise ApiError(404, f"no playable file with id {file_id} in the library")

    @app.get("/api/audio", tags=["library"])
    def audio_by_path(path: str, download: bool = False):
        """A library file's audio by its path (the map's links); only paths the library holds."""
        conn = _read_conn(cfg)
        real = servable(conn, path)
        if not real:
            raise ApiError(404, "not a file of the library")
        return _send(real, download, os.path.basename(path))

    async def _save_upload(upload: UploadFile, tmp: str) -> tuple[str, str]:
        name = os.path.basename(upload.filename or "upload") or "upload"
        suffix = Path(name).suffix[:16]
        path = os.path.join(tmp, "upload" + suffix)
        n = 0
        with open(path, "wb") as fh:
            while True:
                chunk = await upload.read(1 << 20)
                if not chunk:
                    break
                n += len(chunk)
                fh.write(chunk)
        if n == 0:
            raise ApiError(400, f"{name}: the upload is empty (0 bytes)")
        return path, name

    @app.post("/api/analyse", tags=["analysis"])
    async def analyse(file: UploadFile = File(..., description="an audio file (any format emotag reads)"),
                      segments: str | None = Query(None, description="WINDOW,HOP in seconds, e.g. 3,1"),
                      add: bool = Query(False, description="also add the file to the library")):
        """Valence, arousal, emotion label and confidence, descriptor scores, the out-of-domain
        flag and what the sound is, for an uploaded file; with ``segments``, every window too."""
        seg = _segments_param(segments)
        tmp = tempfile.mkdtemp(prefix="emotag_upload_")
        try:
            path, name = await _save_upload(file, tmp)
            out = await analyser.analyse(path, name, seg, keep=add)
            if add:
                out["file_id"] = await asyncio.get_running_loop().run_in_executor(None, _keep, cfg, path, name,
                                                                                  out["sha256"])
            return out
        finally:
            await file.close()
            shutil.rmtree(tmp, ignore_errors=True)

    @app.post("/api/recommend", tags=["analysis"])
    async def recommend(file: UploadFile = File(..., description="the reference take"),
                        kind: str = Form("any", description="music, sfx or any"),
                        limit: int = Form(10), descriptor: list[str] = Form(default=[]),
                        under: str | None = Form(None)):
        """Library files whose emotion fits an uploaded reference (``recommend.py``'s logic)."""
        from va_query import recommend as rank
        if kind not in ("music", "sfx", "any"):
            raise ApiError(400, f"kind must be music, sfx or any, got {kind!r}")
        if not 1 <= limit <= MAX_LIMIT:
            raise ApiError(400, f"limit must be in 1..{MAX_LIMIT}")
        tmp = tempfile.mkdtemp(prefix="emotag_upload_")
        try:
            path, name = await _save_upload(file, tmp)
            ref = await analyser.analyse(path, name, None)
        finally:
            await file.close()
            shutil.rmtree(tmp, ignore_errors=True)
        conn = _read_conn(cfg)
        rows = rank(conn, ref, kind=kind, descriptors=_pairs(descriptor, "descriptor"), under=under or None,
                    limit=limit, exclude_sha=ref["sha256"])
        ids = _ids_of(conn, [r["path"] for r in rows])
        for r in rows:
            r["file_id"] = ids.get(r["path"])
        return {"reference": ref, "results": rows}

    @app.post("/api/reference/video", tags=["analysis"])
    async def reference_video(file: UploadFile = File(..., description="the reference video (a scene, a cut)"),
                              kind: str = Form("any", description="music, sfx or any"),
                              limit: int = Form(5, description="recommendations per source (face, voice) and shot"),
                              under: str | None = Form(None)):
        """A video's faces and voices, and library sounds for each of its shots.

        The soundtrack is analysed as ``/api/analyse`` does (per 3 s window), the picture by
        ``va_faces`` (4 frames a second; the main face's expression per window), shots are
        found from frame differences, and for every shot ``limit`` library files are
        recommended for the face's emotion and ``limit`` for the voice's (``recommend.py``'s
        logic), as the system this feature comes from offered five for each: the two are kept
        apart, not fused, because no labelled audiovisual corpus is available here to show
        how they should be weighed, and a disagreement between them is what an editor wants to
        see. A shot with neither gets ``2 * limit`` for its sound. Nothing of the video is kept.
        """
        from va_query import recommend as rank
        if kind not in ("music", "sfx", "any"):
            raise ApiError(400, f"kind must be music, sfx or any, got {kind!r}")
        if not 1 <= limit <= MAX_LIMIT // 2:
            raise ApiError(400, f"limit must be in 1..{MAX_LIMIT // 2}")
        tmp = tempfile.mkdtemp(prefix="emotag_upload_")
        try:
            path, name = await _save_upload(file, tmp)
            out = await analyser.video(path, name)
        finally:
            await file.close()
            shutil.rmtree(tmp, ignore_errors=True)
        conn = _read_conn(cfg)
        for i, sc in enumerate(out["scenes"]):
            recs = []
            sources = [(src, sc[src]) for src in ("face", "voice") if sc.get(src)]
            if not sources and sc.get("sound"):
                sources = [("sound", sc["sound"])]
            n = limit if len(sources) == 2 else 2 * limit
            for src, emo in sources:
                ref = {"valence": emo["valence"], "arousal": emo["arousal"], "emotion_label": emo.get("label")}
                because = (f"shot {i + 1} ({sc['start']:.1f}-{sc['end']:.1f} s), {src}"
                           + (f" {emo['label']}" if emo.get("label") else "")
                           + f" (valence {emo['valence']:+.2f}, arousal {emo['arousal']:+.2f})")
                rows = rank(conn, ref, kind=kind, under=under or None, limit=n, exclude_sha=out.get("sha256"))
                ids = _ids_of(conn, [r["path"] for r in rows])
                for r in rows:
                    r.update({"file_id": ids.get(r["path"]), "source": src, "because": because})
                recs += rows
            sc["results"] = recs
        return out

    @app.post("/api/scans", tags=["library"], status_code=202)
    def start_scan(body: dict):
        """Start a library scan of a folder (``{"folder": "/srv/sfx", "segments": [3, 1]}``):
        new and changed files are analysed into the library in the background."""
        folder = body.get("folder") if isinstance(body, dict) else None
        if not isinstance(folder, str) or not folder.strip():
            raise ApiError(400, 'expected {"folder": "/path/to/audio"}')
        folder = os.path.abspath(os.path.expanduser(folder))
        if not os.path.isdir(folder):
            raise ApiError(400, f"{folder}: no such folder")
        seg = body.get("segments")
        if seg is not None and not (isinstance(seg, list) and len(seg) == 2 and all(
                isinstance(x, (int, float)) and x > 0 for x in seg)):
            raise ApiError(400, "segments must be [window, hop] in seconds")
        job = scanner.submit(folder, seg)
        return {"id": job, "status": "queued", "folder": folder, "url": f"/api/scans/{job}"}

    @app.get("/api/scans", tags=["library"])
    def list_scans():
        """Every scan job, newest first."""
        from va_db import jobs
        conn = _read_conn(cfg)
        return {"scans": jobs(conn)}

    @app.get("/api/scans/{job_id}", tags=["library"])
    def scan_status(job_id: int):
        """A scan's status (queued, running, done, failed), files done of total, and its failures."""
        from va_db import jobs
        conn = _read_conn(cfg)
        found = jobs(conn, job_id)
        if not found:
            raise ApiError(404, f"no scan {job_id}")
        return found[0]

    @app.post("/api/feedback", tags=["library"], status_code=201)
    def feedback(body: dict):
        """Record that a user ``picked``, ``rejected`` or ``exported`` files, for a reference or a
        query: ``{"file_ids": [3, 7], "action": "picked", "reference": "take12.wav"}``."""
        from va_db import connect, log_feedback
        if not isinstance(body, dict):
            raise ApiError(400, "expected a JSON object")
        ids = body.get("file_ids", [body["file_id"]] if "file_id" in body else None)
        if not isinstance(ids, list) or not ids or not all(isinstance(i, int) for i in ids):
            raise ApiError(400, 'expected "file_id": N or "file_ids": [N, ...]')
        ref, query = body.get("reference"), body.get("query")
        if query is not None and not isinstance(query, str):
            query = json.dumps(query, sort_keys=True)
        conn = connect(cfg.db)
        try:
            rows = log_feedback(conn, ids, str(body.get("action")), reference=ref, query=query)
        finally:
            conn.close()
        return {"ids": rows, "action": body.get("action"), "file_ids": ids}

    @app.get("/api/feedback", tags=["library"])
    def feedback_rows(limit: int = 100):
        """The latest feedback rows."""
        conn = _read_conn(cfg)
        cols = ["id", "file_id", "action", "reference", "query", "at"]
        rows = conn.execute(f"SELECT {', '.join(cols)} FROM feedback ORDER BY id DESC LIMIT ?",
                            (max(1, min(limit, MAX_LIMIT)),)).fetchall()
        return {"feedback": [dict(zip(cols, r)) for r in rows]}

    return app


def _quietly(fn, *args):
    try:
        fn(*args)
    except Exception:  # noqa: BLE001  a warm-up that fails is redone on demand, with its error then
        log.debug("background warm-up failed", exc_info=True)


def _ids_of(conn, paths) -> dict:
    out = {}
    for p in paths:
        r = conn.execute("SELECT file_id FROM audio_paths WHERE path = ?", (p,)).fetchone()
        out[p] = r[0] if r else None
    return out


def _record(conn, file_id: int) -> dict:
    row = conn.execute("SELECT id, sha256, path, duration, sample_rate, channels, corpus, group_id, domain "
                       "FROM audio_files WHERE id = ?", (file_id,)).fetchone()
    if row is None:
        raise ApiError(404, f"no file with id {file_id} in the library")
    cols = ["id", "sha256", "path", "duration", "sample_rate", "channels", "corpus", "group", "domain"]
    out = dict(zip(cols, row))
    out["paths"] = _file_paths(conn, file_id)
    pc = ["id", "valence", "arousal", "emotion_label", "emotion_confidence", "emotion_source", "valence_low",
          "valence_high", "arousal_low", "arousal_high", "in_domain"]
    p = conn.execute(f"SELECT {', '.join(pc)} FROM predictions WHERE file_id = ? ORDER BY id DESC LIMIT 1",
                     (file_id,)).fetchone()
    out["prediction"] = dict(zip(pc, p)) if p else None
    out["descriptor_scores"] = dict(conn.execute(
        "SELECT descriptor, score FROM descriptor_scores WHERE prediction_id = ?", (p[0],)).fetchall()) if p else {}
    out["sound_classes"] = [{"class": c, "score": s} for c, s in conn.execute(
        "SELECT class, score FROM sound_classes WHERE file_id = ? ORDER BY rank", (file_id,))]
    from va_metadata import FIELDS
    m = conn.execute(f"SELECT {', '.join(FIELDS)} FROM metadata WHERE file_id = ?", (file_id,)).fetchone()
    out["metadata"] = {k: v for k, v in zip(FIELDS, m) if v} if m else {}
    out["labels"] = {n: (v if v is not None else t) for n, v, t in conn.execute(
        "SELECT name, value, text FROM labels WHERE file_id = ?", (file_id,))}
    out["segments"] = conn.execute("SELECT COUNT(*) FROM segments WHERE file_id = ?", (file_id,)).fetchone()[0]
    return out


_KEEP_LOCK = threading.Lock()


def _keep(cfg: ServerConfig, path: str, name: str, sha: str) -> int:
    """Copy an upload into the library's uploads folder and add it through library mode."""
    from va_library import analyse_library
    dest_dir = cfg.uploads_dir
    dest_dir.mkdir(parents=True, exist_ok=True)
    safe = "".join(c if c.isalnum() or c in "._- " else "_" for c in name).strip() or "upload"
    dest = dest_dir / f"{sha[:12]}_{safe}"
    with _KEEP_LOCK:
        if not dest.exists():
            shutil.copyfile(path, dest)
        from extractor import default_cache_dir           # the worker cached its features: not analysed twice
        analyse_library([str(dest)], db=cfg.db, models_dir=cfg.models_dir, timeout=cfg.analysis_timeout,
                        cache_dir=default_cache_dir())
    conn = _read_conn(cfg)
    r = conn.execute("SELECT id FROM audio_files WHERE sha256 = ?", (sha,)).fetchone()
    if r is None:
        raise ApiError(500, f"{name}: analysed but not added to the library")
    return r[0]


def _map_html(cfg: ServerConfig, cache: dict) -> str:
    """The map page of ``va_mapview`` with links through ``/api/audio``; cached until the library changes.
    With a token, the page's audio requests carry the cookie its first visit set."""
    from va_data_loader import load_descriptor_pairs, load_lexicon
    from va_mapview import library_payload, render
    db = Path(cfg.db)
    key = library_version(db)
    if cache.get("key") != key:
        conn = _read_conn(cfg)
        payload = library_payload(conn, db.parent, lexicon=load_lexicon(), pairs=load_descriptor_pairs())
        payload["srcdir"] = ["/api/audio?path=" + quote(os.path.join(f, ""), safe="") for f in payload["folders"]]
        cache.clear()
        cache.update(key=key, html=render(payload, title="emotag: the library"))
    return cache["html"]


# ----------------------------------------------------------------------------- middleware
class _TooLarge(Exception):
    pass


class BodyLimit:
    """Refuse request bodies over ``limit`` bytes with 413: by Content-Length before reading,
    and by counting while reading (chunked uploads)."""

    def __init__(self, app, limit: int):
        self.app, self.limit = app, limit

    async def __call__(self, scope, receive, send):
        if scope["type"] != "http":
            return await self.app(scope, receive, send)
        headers = dict(scope.get("headers") or [])
        length = headers.get(b"content-length")
        msg = f"the upload is larger than the server's limit of {self.limit / 2**20:g} MB (--max-upload-mb)"
        if length is not None and length.isdigit() and int(length) > self.limit:
            return await _send_json(send, 413, msg)
        seen, over, replaced = 0, False, False

        async def counted():
            nonlocal seen, over
            m = await receive()
            if m["type"] == "http.request":
                seen += len(m.get("body", b""))
                if seen > self.limit:
                    over = True
                    raise _TooLarge()
            return m

        async def tracked(m):
            nonlocal replaced
            if over:                                  # whatever the app makes of the error: our 413
                if not replaced:
                    replaced = True
                    await _send_json(send, 413, msg)
                return
            await send(m)

        try:
            await self.app(scope, counted, tracked)
        except _TooLarge:
            if not replaced:
                replaced = True
                await _send_json(send, 413, msg)


class TokenAuth:
    """Every request must carry the token: ``Authorization: Bearer TOKEN``, or, for what a
    browser fetches by itself (the web app's files, audio, the map, the docs),
    ``?access_token=TOKEN`` once, which sets a same-site, HTTP-only cookie for the rest."""

    COOKIE = b"emotag_token"

    def __init__(self, app, token: str):
        self.app, self.token = app, token.encode()

    async def __call__(self, scope, receive, send):
        if scope["type"] != "http" or scope.get("method") == "OPTIONS":
            return await self.app(scope, receive, send)
        headers = dict(scope.get("headers") or [])
        auth = headers.get(b"authorization", b"")
        given, via_query = (auth[7:].strip() if auth[:7].lower() == b"bearer " else b""), False
        if not given:
            from urllib.parse import parse_qs
            q = parse_qs(scope.get("query_string", b"").decode("latin-1"))
            given = (q.get("access_token") or [""])[0].encode()
            via_query = bool(given)
        if not given:
            for part in headers.get(b"cookie", b"").split(b";"):
                k, _, v = part.strip().partition(b"=")
                if k == self.COOKIE:
                    given = v
        if not given or not hmac.compare_digest(given, self.token):
            return await _send_json(send, 401, "missing or wrong token: send 'Authorization: Bearer TOKEN'",
                                    extra=[(b"www-authenticate", b"Bearer")])
        if not via_query:
            return await self.app(scope, receive, send)

        async def with_cookie(m):
            if m["type"] == "http.response.start":
                m = dict(m, headers=list(m.get("headers", [])) + [
                    (b"set-cookie", self.COOKIE + b"=" + self.token + b"; Path=/; HttpOnly; SameSite=Strict")])
            await send(m)
        return await self.app(scope, receive, with_cookie)


async def _send_json(send, status: int, message: str, extra=()):
    body = json.dumps({"error": message}).encode()
    await send({"type": "http.response.start", "status": status,
                "headers": [(b"content-type", b"application/json"), (b"content-length", str(len(body)).encode()),
                            *extra]})
    await send({"type": "http.response.body", "body": body})


def is_loopback(host: str) -> bool:
    return host in LOOPBACK or host.startswith("127.")
