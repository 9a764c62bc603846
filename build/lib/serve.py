"""Serve a library over HTTP: the JSON API and the web app (FastAPI on uvicorn).

Reads the library (``--db``) and the models (``--models-dir``); writes feedback rows, scan
jobs and the files of scans and kept uploads into the library (``va_server``). Open
``http://HOST:PORT/`` for the web app (the map, search by feeling, a dropped reference
take's emotion and recommendations, exports, scans) and ``/docs`` for the API, which
works offline.

Security defaults: it listens on 127.0.0.1 only. Listening on any other address needs
``--token`` (or ``$EMOTAG_TOKEN``), and then every request must carry
``Authorization: Bearer TOKEN`` (links a browser opens by itself may use
``?access_token=TOKEN``). No cross-origin requests unless ``--cors ORIGIN``. Uploads are
refused above ``--max-upload-mb``; one analysis stops after ``--analysis-timeout``
seconds. Audio is served only for files the library holds.

Examples:
  python serve.py --db output/demo/audio_predictions.db --models-dir output/demo/models
  EMOTAG_TOKEN=s3cret python serve.py --db /srv/sfx/library.db --host 0.0.0.0 --port 8080
"""
from __future__ import annotations

import os
import sys
from pathlib import Path

from va_cli import add_common_args, exit_main, parser, run_main
from va_utils import EmoTagError, log


def build_parser():
    ap = parser(__doc__)
    ap.add_argument("--host", default="127.0.0.1", help="address to listen on (other than loopback: needs --token)")
    ap.add_argument("--port", type=int, default=8000, help="port to listen on (0: any free port)")
    ap.add_argument("--token", default=os.environ.get("EMOTAG_TOKEN"),
                    help="bearer token every request must carry (default: $EMOTAG_TOKEN)")
    ap.add_argument("--cors", action="append", default=[], metavar="ORIGIN",
                    help="allow cross-origin requests from this origin (repeatable; default: none)")
    ap.add_argument("--max-upload-mb", type=float, default=200.0, help="largest upload accepted")
    ap.add_argument("--analysis-timeout", type=float, default=120.0, help="seconds one uploaded file may take")
    ap.add_argument("--analysis-workers", type=int, default=1,
                    help="processes that analyse uploads (each holds the models)")
    ap.add_argument("--scan-jobs", type=int, default=1, help="worker processes of a library scan")
    add_common_args(ap, jobs=False)
    return ap


def main(argv=None):
    return run_main(_run, build_parser(), argv)


def _run(args):
    import uvicorn

    from va_server import ServerConfig, create_app, is_loopback
    if not is_loopback(args.host) and not args.token:
        raise EmoTagError(f"--host {args.host} listens beyond this machine: give --token (or set EMOTAG_TOKEN), "
                          "which every request must then carry")
    if args.max_upload_mb <= 0 or args.analysis_timeout <= 0:
        raise EmoTagError("--max-upload-mb and --analysis-timeout must be positive")
    if not Path(args.models_dir).is_dir():
        raise EmoTagError(f"{args.models_dir}: no such models folder")
    cfg = ServerConfig(db=Path(args.db), models_dir=Path(args.models_dir), token=args.token, cors=tuple(args.cors),
                       max_upload_mb=args.max_upload_mb, analysis_timeout=args.analysis_timeout,
                       analysis_workers=args.analysis_workers, scan_jobs=args.scan_jobs,
                       trust_model=args.trust_model)
    app = create_app(cfg)
    config = uvicorn.Config(app, host=args.host, port=args.port, log_level="warning", access_log=False,
                            timeout_graceful_shutdown=5)
    server = uvicorn.Server(config)
    import threading

    def announce():
        import time
        while not server.started and not server.should_exit:
            time.sleep(0.05)
        if server.started:
            sock = server.servers[0].sockets[0].getsockname() if server.servers else (args.host, args.port)
            host = f"[{sock[0]}]" if ":" in sock[0] else sock[0]
            tok = f"/?access_token={args.token}" if args.token else "/"
            print(f"emotag serving {args.db} at http://{host}:{sock[1]}{tok} (API docs: /docs); Ctrl-C stops",
                  flush=True)

    threading.Thread(target=announce, daemon=True).start()
    server.run()
    if not server.started:
        log.error("the server did not start (is port %s in use?)", args.port)
        return 1
    return 0


if __name__ == "__main__":
    exit_main(main)
    sys.exit(0)
