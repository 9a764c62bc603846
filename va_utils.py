"""Shared utilities: project paths, the exception family, logging, file discovery, hashing.

Reads and writes nothing by itself. Every stage imports its default locations from here,
so that no path depends on the current directory::

    >>> from va_utils import DATA_DIR, MODELS_DIR
    >>> from va_utils import find_audio_files
    >>> files, problems = find_audio_files(["my_sounds/"])
"""
from __future__ import annotations

import hashlib
import logging
import os
import sys
from pathlib import Path

__version__ = "0.1.0"

PROJECT_ROOT = Path(__file__).resolve().parent
DATA_DIR = PROJECT_ROOT / "data"
MODELS_DIR = PROJECT_ROOT / "models"
DEFAULT_OUT_DIR = PROJECT_ROOT / "output"
DEFAULT_DB = DEFAULT_OUT_DIR / "audio_predictions.db"
DEFAULT_LEXICON = DATA_DIR / "descriptor_lexicon.csv"
DEFAULT_PAIRS = DATA_DIR / "descriptor_pairs.csv"

AUDIO_EXTENSIONS = (".wav", ".wave", ".flac", ".ogg", ".oga", ".mp3", ".aif", ".aiff", ".aifc")

log = logging.getLogger("emotag")


class EmoTagError(Exception):
    """Base class of every error this project raises on purpose (bad input, not bugs)."""


class BadAudioError(EmoTagError):
    """An audio file cannot be decoded or holds no usable signal."""


class BadLabelError(EmoTagError):
    """A label, lexicon, pairs or hand-off table is malformed."""


class ModelMismatchError(EmoTagError):
    """A saved model does not fit the running extractor or the given features."""


def show(value) -> str:
    """A value as it should appear in an error message: ``1.7``, ``'loud'``, ``nan``."""
    try:
        import numpy as np
        if isinstance(value, (float, np.floating, np.integer)):
            return str(value.item() if hasattr(value, "item") else value)
    except ImportError:  # pragma: no cover
        pass
    return repr(value)


def show_path(path) -> str:
    """A file name for a one-line message: control characters (a newline in a name)
    escaped, everything else as is."""
    text = str(path)
    if any(ord(ch) < 32 or ord(ch) == 127 for ch in text):
        return text.encode("unicode_escape").decode("ascii")
    return text


def check_not_input(out, *inputs) -> None:
    """Refuse an output path that is one of the inputs (outputs never overwrite inputs)."""
    o = Path(out).resolve()
    for p in inputs:
        if p is not None and Path(p).exists() and Path(p).resolve() == o:
            raise EmoTagError(f"{out}: this output would overwrite an input; choose another path")


def did_you_mean(name: str, choices) -> str:
    """``"; did you mean 'x'?"`` for the closest of ``choices``, else a short list of them."""
    import difflib
    choices = sorted(choices)
    hint = difflib.get_close_matches(name, choices, n=1)
    return f"; did you mean {hint[0]!r}?" if hint else f"; available: {choices[:12]}"


def setup_logging(verbose: int = 0, quiet: bool = False) -> None:
    """Configure the project logger for a stage script (libraries never call this)."""
    level = logging.ERROR if quiet else (logging.DEBUG if verbose > 1 else logging.INFO)
    handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(logging.Formatter("%(levelname)s: %(message)s"))
    log.handlers[:] = [handler]
    log.setLevel(level)
    log.propagate = False


def sha256_file(path: str | os.PathLike, *, chunk_size: int = 1 << 20) -> str:
    """Return the hex sha256 of a file's bytes: the identity of an audio file.

    Parameters
    ----------
    path : path-like
        File to hash. It is read in chunks, so memory stays flat for any size.
    """
    h = hashlib.sha256()
    with open(path, "rb") as fh:
        for block in iter(lambda: fh.read(chunk_size), b""):
            h.update(block)
    return h.hexdigest()


def sha256_bytes(data: bytes) -> str:
    """Return the hex sha256 of ``data``."""
    return hashlib.sha256(data).hexdigest()


def find_audio_files(paths, *, extensions=AUDIO_EXTENSIONS):
    """Expand files and folders (searched recursively) into a sorted list of audio files.

    Parameters
    ----------
    paths : iterable of path-like
        Files are kept whatever their extension (the decoder judges them); folders are
        searched recursively for ``extensions`` (case-insensitive). Symlinked folders are
        followed once; loops are cut.

    Returns
    -------
    files : list of Path
        Unique, sorted.
    problems : list of (str, str)
        ``(path, message)`` for every argument that does not exist or cannot be read.
    """
    exts = tuple(e.lower() for e in extensions)
    found: dict[str, Path] = {}
    problems: list[tuple[str, str]] = []
    for raw in paths:
        p = Path(raw)
        if p.is_file():
            found.setdefault(str(p), p)
        elif p.is_dir():
            seen_dirs: set[str] = set()
            for root, dirs, names in os.walk(p, followlinks=True, onerror=lambda e: problems.append((str(e.filename), e.strerror or str(e)))):
                real = os.path.realpath(root)
                if real in seen_dirs:
                    dirs[:] = []
                    continue
                seen_dirs.add(real)
                dirs.sort()
                for name in names:
                    if name.lower().endswith(exts):
                        fp = Path(root) / name
                        if fp.is_symlink() and not fp.exists():
                            problems.append((str(fp), "broken symbolic link"))
                            continue
                        found.setdefault(str(fp), fp)
        else:
            problems.append((str(p), "no such file or folder"))
    return sorted(found.values()), problems
