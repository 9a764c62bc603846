"""Shared command-line flags and the ``main`` wrapper every stage script uses.

Reads and writes nothing. One place defines ``--models-dir``, ``--db``, ``--jobs``,
``--backend``/``--scheduler``, ``--cache-dir``/``--no-cache``, ``-v/--verbose`` and ``--quiet`` so that all stages spell
them the same way, and :func:`run_main` turns project errors into a one-line message
and a non-zero exit code (a traceback only for real bugs).
"""
from __future__ import annotations

import argparse
import sys

from va_utils import DEFAULT_DB, DEFAULT_OUT_DIR, MODELS_DIR, EmoTagError, setup_logging


class HelpFormatter(argparse.RawDescriptionHelpFormatter, argparse.ArgumentDefaultsHelpFormatter):
    """Keep the docstring's layout and show every default."""


def parser(doc: str) -> argparse.ArgumentParser:
    """An ``ArgumentParser`` whose description is the stage's module docstring."""
    return argparse.ArgumentParser(description=doc, formatter_class=HelpFormatter)


def add_common_args(ap: argparse.ArgumentParser, *, models=True, db=True, jobs=True, out_dir=False, cluster=True):
    if models:
        ap.add_argument("--models-dir", default=str(MODELS_DIR), help="folder of trained models")
        ap.add_argument("--trust-model", action="store_true",
                        help="load model files that no MANIFEST.json written at training time vouches for "
                             "(loading a model file runs code: only for models from a source you trust)")
    if db:
        ap.add_argument("--db", default=str(DEFAULT_DB), help="SQLite library file")
    if out_dir:
        ap.add_argument("--out-dir", default=str(DEFAULT_OUT_DIR), help="folder for the CSVs and figures this stage writes")
    if jobs:
        ap.add_argument("-j", "--jobs", type=int, default=1, help="parallel worker processes for feature extraction (-1: all cores)")
    if jobs and cluster:
        ap.add_argument("--backend", choices=("loky", "dask"), default="loky",
                        help="where extraction runs: local worker processes (loky), or a Dask cluster")
        ap.add_argument("--scheduler", metavar="ADDRESS", default=None,
                        help="Dask scheduler to run extraction on, e.g. tcp://10.0.0.5:8786 (implies --backend dask; "
                             "without it, --backend dask starts a local cluster of --jobs workers)")
        ap.add_argument("--timeout", type=float, default=None, metavar="SECONDS",
                        help="give up on a file that takes longer than this to analyse (default: no limit)")
    if jobs:
        ap.add_argument("--cache-dir", default=None, help="feature cache folder (default: $EMOTAG_CACHE or ~/.cache/emotag)")
        ap.add_argument("--no-cache", action="store_true", help="neither read nor write the feature cache")
    ap.add_argument("-v", "--verbose", action="count", default=0, help="more messages, and a progress bar even when not on a terminal")
    ap.add_argument("-q", "--quiet", action="store_true", help="errors only; no progress bar")
    return ap


def cache_dir(args):
    """The feature cache folder chosen by ``--cache-dir``/``--no-cache``, or None."""
    if getattr(args, "no_cache", False):
        return None
    if getattr(args, "cache_dir", None):
        return args.cache_dir
    from extractor import default_cache_dir
    return str(default_cache_dir())


def extraction_args(args) -> dict:
    """Keyword arguments of :func:`extractor.extract_batch` chosen by the shared flags."""
    scheduler = getattr(args, "scheduler", None)
    return {"jobs": args.jobs, "cache_dir": cache_dir(args), "scheduler": scheduler,
            "backend": "dask" if scheduler else getattr(args, "backend", "loky"),
            "timeout": getattr(args, "timeout", None)}


def show_progress(args) -> bool:
    return not args.quiet and (args.verbose > 0 or sys.stderr.isatty())


def run_main(run, ap: argparse.ArgumentParser, argv=None) -> int:
    """Parse ``argv``, call ``run(args)`` and map failures to exit codes.

    Returns 0 (or what ``run`` returns) on success, 2 with a one-line ``error:`` message
    for bad input (any :class:`EmoTagError`), 130 on Ctrl-C.
    """
    args = ap.parse_args(argv)
    setup_logging(args.verbose, args.quiet)
    if getattr(args, "trust_model", False):
        from va_io import trust_models
        trust_models(True)
    try:
        code = run(args)
    except EmoTagError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print("interrupted: files already written are complete; re-run to finish", file=sys.stderr)
        return 130
    return 0 if code is None else int(code)


def exit_main(main):
    """``sys.exit(main())`` for ``if __name__ == "__main__"`` blocks."""
    sys.exit(main())

