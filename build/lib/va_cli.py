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


class HelpFormatter(argparse.RawDescriptionHelpFormatter):
    """Keep the docstring's layout, show every default, and keep the usage line short.

    The usage line names the positional arguments and the required options, then
    ``[options]``: the options are listed below the examples. An option's default is
    appended to its help unless the help already states one, or there is none to state
    (a flag, or an option that is off unless given).
    """

    def _get_help_string(self, action):
        text = action.help or ""
        if (action.default in (None, False, argparse.SUPPRESS) or "default" in text.lower()
                or (not action.option_strings and action.nargs not in (argparse.OPTIONAL, argparse.ZERO_OR_MORE))):
            return text
        return text + " (default: %(default)s)"

    def add_usage(self, usage, actions, groups, prefix=None):
        if usage is None:
            parts = ["%(prog)s"]
            for a in actions:
                if not a.option_strings:
                    parts.append(self._format_args(a, self._get_default_metavar_for_positional(a)))
                elif a.required:
                    parts.append(f"{a.option_strings[-1]} {self._format_args(a, self._get_default_metavar_for_optional(a))}")
            parts.append("[options]")
            usage = " ".join(parts)
        return super().add_usage(usage, actions, groups, prefix)


def split_doc(doc: str) -> tuple[str, list[str], str]:
    """``(summary, examples, details)`` of a stage's module docstring.

    The summary is the first paragraph; the examples are the indented lines under an
    ``Examples:`` (or ``Example:``) heading; the details are everything else.
    """
    lines = (doc or "").strip("\n").splitlines()
    blank = next((i for i, ln in enumerate(lines) if not ln.strip()), len(lines))
    summary = " ".join(ln.strip() for ln in lines[:blank])
    rest = lines[blank:]
    examples, details, k = [], [], 0
    while k < len(rest):
        if rest[k].strip() in ("Examples:", "Example:"):
            k += 1
            while k < len(rest) and (rest[k].startswith((" ", "\t")) and rest[k].strip()):
                examples.append(rest[k].strip())
                k += 1
            continue
        details.append(rest[k])
        k += 1
    return summary, examples, "\n".join(details).strip("\n")


def parser(doc: str) -> argparse.ArgumentParser:
    """An ``ArgumentParser`` whose help teaches: what the stage is for, examples, details, options.

    ``doc`` is the stage's module docstring: its first paragraph (one sentence) opens the
    help, its ``Examples:`` block follows, then the rest of it, then the options with
    their defaults.
    """
    summary, examples, details = split_doc(doc)
    parts = [summary]
    if examples:
        parts.append("examples:\n" + "\n".join("  " + e for e in examples))
    if details:
        parts.append(details)
    return argparse.ArgumentParser(description="\n\n".join(parts), formatter_class=HelpFormatter)


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
                             "without it, --backend dask starts a local cluster of --jobs workers); see docs/LIBRARY.md")
        ap.add_argument("--cluster-timeout", type=float, default=60.0, metavar="SECONDS",
                        help="with --scheduler: end with an error when the scheduler cannot be reached, no worker "
                             "can run our code, or every worker is gone for this long (default 60)")
        ap.add_argument("--timeout", type=float, default=None, metavar="SECONDS",
                        help="give up on a file that takes longer than this to analyse (default: no limit)")
    if jobs:
        ap.add_argument("--cache-dir", default=None, help="feature cache folder (default: $EMOTAG_CACHE or ~/.cache/emotag)")
        ap.add_argument("--no-cache", action="store_true", help="neither read nor write the feature cache")
    ap.add_argument("-v", "--verbose", action="count", default=0, help="more messages, and a progress bar even when not on a terminal")
    ap.add_argument("-q", "--quiet", action="store_true", help="errors only; no progress bar")
    return ap


class _DescriptorAction(argparse.Action):
    """``--descriptor NAME`` opens a (name, min) pair; ``--min X`` sets the last one's minimum."""

    def __call__(self, ap, ns, value, option=None):
        pairs = list(getattr(ns, "descriptors", None) or [])
        if option == "--descriptor":
            pairs.append([value, None])
        else:
            if not pairs or pairs[-1][1] is not None:
                raise argparse.ArgumentError(self, "--min must follow a --descriptor NAME")
            try:
                x = float(value)
            except ValueError:
                raise argparse.ArgumentError(self, f"--min needs a number in 0..1, got {value!r}") from None
            if not 0 <= x <= 1:
                raise argparse.ArgumentError(self, f"--min needs a number in 0..1, got {value}")
            pairs[-1][1] = x
        ns.descriptors = pairs


DESCRIPTOR_MIN = 0.5


def add_descriptor_filter(ap: argparse.ArgumentParser) -> None:
    """The repeatable ``--descriptor NAME [--min X]`` filter of the query stages."""
    ap.add_argument("--descriptor", dest="descriptors", action=_DescriptorAction, metavar="NAME",
                    help=f"a descriptor whose score must reach the following --min (default {DESCRIPTOR_MIN}); "
                         "repeat for several")
    ap.add_argument("--min", dest="descriptors", action=_DescriptorAction, metavar="X",
                    help="the minimum score (0..1) of the preceding --descriptor")


def descriptor_filter(args) -> list[tuple[str, float]]:
    """``[(name, minimum), ...]`` chosen by :func:`add_descriptor_filter`'s flags."""
    return [(n, DESCRIPTOR_MIN if lo is None else lo) for n, lo in (getattr(args, "descriptors", None) or [])]


def add_descriptor_training_args(ap, *, targets=("va", "human"), default="va"):
    """The flags of the two descriptor-training stages."""
    ap.add_argument("--target", choices=targets, default=default,
                    help="va: VA-derived scores of predictions; human: human ratings logged with a corpus")
    ap.add_argument("--folds", type=int, default=5, help="outer grouped CV folds")
    ap.add_argument("--inner-folds", type=int, default=3, help="grouped folds of the hyperparameter search")
    ap.add_argument("--min-files", type=int, default=10, help="refuse to train on fewer files")
    ap.add_argument("--seed", type=int, default=0, help="seed of the fold assignment")
    add_common_args(ap, jobs=False, out_dir=True)
    ap.add_argument("-j", "--jobs", type=int, default=1, help="parallel processes for cross-validation")


def cache_dir(args):
    """The feature cache folder chosen by ``--cache-dir``/``--no-cache``, or None."""
    if getattr(args, "no_cache", False):
        return None
    if getattr(args, "cache_dir", None):
        return args.cache_dir
    from extractor import default_cache_dir
    return str(default_cache_dir())


def add_face_args(ap: argparse.ArgumentParser):
    """The face-lane flags of a video (``predict_new_audio.py --faces``; :mod:`va_faces`)."""
    g = ap.add_argument_group("faces (videos: emotion from the picture beside the soundtrack's)")
    g.add_argument("--faces", action="store_true",
                   help="for every video: detect faces (4 frames a second), classify the main face's expression "
                        "per window and fuse it with the voice's emotion, into new_audio_faces.csv (with --db: "
                        "the faces table); implies --segments 3 1 unless --segments is given. Faces never leave "
                        "the machine and no frame or face crop is stored")
    g.add_argument("--face-fps", type=float, default=4.0, metavar="FPS",
                   help="frames per second looked at for faces (default 4)")
    g.add_argument("--keep-thumbnails", action="store_true",
                   help="with --faces: keep one small grey crop per face track in OUT_DIR/thumbnails/ (off by "
                        "default: nothing of a face is stored unless asked)")
    return g


def extraction_args(args) -> dict:
    """Keyword arguments of :func:`extractor.extract_batch` chosen by the shared flags."""
    scheduler = getattr(args, "scheduler", None)
    if scheduler:
        from va_cluster import ClusterSpec
        if not args.cluster_timeout > 0:
            raise EmoTagError(f"--cluster-timeout must be a positive number of seconds, not {args.cluster_timeout:g}")
        scheduler = ClusterSpec(scheduler, float(args.cluster_timeout))
    return {"jobs": args.jobs, "cache_dir": cache_dir(args), "scheduler": scheduler,
            "backend": "dask" if scheduler else getattr(args, "backend", "loky"),
            "timeout": getattr(args, "timeout", None)}


def training_args(args) -> dict:
    """Keyword arguments of :func:`va_training.train_descriptor` chosen by :func:`add_descriptor_training_args`."""
    return {"target": args.target, "models_dir": args.models_dir, "out_dir": args.out_dir, "folds": args.folds,
            "inner_folds": args.inner_folds, "min_files": args.min_files, "seed": args.seed, "jobs": args.jobs,
            "db": args.db}


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



def per_file_jsonl(list_file, out_file, predict) -> int:
    """The loop of the peer runners (``peer_*.py``, which run in foreign venvs that have
    only the standard library and this module of ours): read one audio path per line of
    ``list_file``, write one JSON object per path to ``out_file`` (``{"path", ...predict(path)}``,
    or ``{"path", "error"}`` when ``predict`` raises: one bad file never stops the run).
    Returns the number of files that failed."""
    import json
    from pathlib import Path
    paths = [p for p in Path(list_file).read_text().splitlines() if p.strip()]
    failed = 0
    with open(out_file, "w") as fh:
        for p in paths:
            try:
                row = {"path": p, **predict(p)}
            except Exception as exc:  # noqa: BLE001  a foreign model's failure is reported per file
                row, failed = {"path": p, "error": f"{type(exc).__name__}: {exc}"}, failed + 1
            fh.write(json.dumps(row) + "\n")
    return failed
