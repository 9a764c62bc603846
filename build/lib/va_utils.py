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



def _project_root() -> tuple[Path, bool]:
    """Where the shipped models, tables and web app are, and whether that is a checkout.

    A checkout (or ``pip install -e .``) has them beside this file. ``pip install .``
    puts the modules in site-packages and these under ``<prefix>/share/emotag``
    (``$EMOTAG_HOME`` overrides both).
    """
    here = Path(__file__).resolve().parent
    if os.environ.get("EMOTAG_HOME"):
        return Path(os.environ["EMOTAG_HOME"]).resolve(), False
    if (here / "models").is_dir():
        return here, True
    import site
    for prefix in (sys.prefix, getattr(site, "USER_BASE", None) or ""):
        share = Path(prefix) / "share" / "emotag"
        if (share / "models").is_dir():
            return share, False
    return here, True


PROJECT_ROOT, _IN_CHECKOUT = _project_root()
DATA_DIR = PROJECT_ROOT / "data"
MODELS_DIR = PROJECT_ROOT / "models"
#: Outputs go beside the checkout's code, or into ./output when the toolkit is installed.
DEFAULT_OUT_DIR = PROJECT_ROOT / "output" if _IN_CHECKOUT else Path("output").resolve()
DEFAULT_DB = DEFAULT_OUT_DIR / "audio_predictions.db"
DEFAULT_LEXICON = DATA_DIR / "descriptor_lexicon.csv"
DEFAULT_PAIRS = DATA_DIR / "descriptor_pairs.csv"

#: Extensions searched for in folders (case-insensitive): libsndfile's formats, then FFmpeg's (see va_decode).
#: Other files in a folder are kept when their first bytes name an audio or video container.
AUDIO_EXTENSIONS = (".wav", ".wave", ".bwf", ".rf64", ".w64", ".flac", ".ogg", ".oga", ".opus", ".spx", ".mp3",
                    ".mp2", ".aif", ".aiff", ".aifc", ".au", ".snd", ".caf", ".m4a", ".m4b", ".mp4", ".m4v", ".mov",
                    ".qt", ".3gp", ".aac", ".adts", ".ac3", ".amr", ".webm", ".mkv", ".mka", ".wma", ".asf", ".wmv",
                    ".avi", ".wv", ".ape", ".tta")

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


def tflite_interpreter(path, sha256: str, what: str, *, preserve_all_tensors: bool = False):
    """A one-thread LiteRT interpreter of a shipped TensorFlow Lite model, tensors allocated.

    The file is refused (:class:`ModelMismatchError`) unless its sha256 is ``sha256``, as
    for every model of the project; ``what`` names the model in the messages (YAMNet, the
    face detector, ...).
    """
    import warnings
    try:
        from ai_edge_litert.interpreter import Interpreter
    except ImportError as exc:
        raise EmoTagError(f"{what} needs the ai-edge-litert package: pip install ai-edge-litert") from exc
    path = Path(path)
    if not path.is_file():
        raise EmoTagError(f"{path}: the {what} model file is missing")
    sha = sha256_file(path)
    if sha != sha256:
        raise ModelMismatchError(f"{path}: refused: its sha256 {sha[:12]}… is not the shipped {what}'s "
                                 f"({sha256[:12]}…)")
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")    # "preserve_all_tensors is for debugging": YAMNet needs one hidden tensor
        it = Interpreter(model_path=str(path), num_threads=1, experimental_preserve_all_tensors=preserve_all_tensors)
    it.allocate_tensors()
    return it


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


def _mpeg_sync(b: bytes) -> bool:
    """An MPEG-1/2 audio frame header or an ADTS (AAC) header at the start of ``b``."""
    if len(b) < 4 or b[0] != 0xFF or (b[1] & 0xE0) != 0xE0:
        return False
    if (b[1] & 0xF6) == 0xF0:                       # ADTS: layer 00, sync 12 bits
        return ((b[2] >> 2) & 0xF) < 13              # sampling-frequency index
    version, layer = (b[1] >> 3) & 3, (b[1] >> 1) & 3
    bitrate, rate = b[2] >> 4, (b[2] >> 2) & 3
    return version != 1 and layer != 0 and bitrate not in (0, 15) and rate != 3


def sniff(path) -> str | None:
    """Name the container of ``path`` from its first bytes, or None when it is not one we decode.

    Returns one of ``wav``, ``aiff``, ``flac``, ``ogg``, ``mp3``, ``mp4``, ``matroska``,
    ``asf``, ``caf``, ``au``, ``wavpack``, ``ape``, ``amr``, ``ac3``, ``avi``, ``mpegts``.
    """
    try:
        with open(path, "rb") as fh:
            b = fh.read(192)
    except OSError:
        return None
    if len(b) < 4:
        return None
    if b[:4] in (b"RIFF", b"RIFX", b"RF64", b"BW64") and len(b) >= 12:
        return {b"WAVE": "wav", b"AVI ": "avi"}.get(b[8:12])
    if b[:4] == b"riff":
        return "wav"                                # Sony Wave64
    if b[:4] == b"FORM" and b[8:12] in (b"AIFF", b"AIFC"):
        return "aiff"
    if b[4:8] == b"ftyp" or b[4:8] in (b"moov", b"mdat", b"wide", b"free", b"skip"):
        return "mp4"
    simple = {b"fLaC": "flac", b"OggS": "ogg", b"caff": "caf", b".snd": "au", b"wvpk": "wavpack", b"MAC ": "ape",
              b"\x1aE\xdf\xa3": "matroska", b"#!AM": "amr", b"TTA1": "tta"}
    if b[:4] in simple:
        return simple[b[:4]]
    if b[:3] == b"ID3":
        return "mp3"
    if b[:8] == b"\x30\x26\xb2\x75\x8e\x66\xcf\x11":
        return "asf"
    if b[:2] == b"\x0bw":
        return "ac3"
    if b[0] == 0x47 and len(b) > 188 and b[188] == 0x47:
        return "mpegts"
    if _mpeg_sync(b):
        return "mp3"
    return None


def find_audio_files(paths, *, extensions=AUDIO_EXTENSIONS):
    """Expand files and folders (searched recursively) into a sorted list of audio files.

    Parameters
    ----------
    paths : iterable of path-like
        Files are kept whatever their extension (the decoder judges them); folders are
        searched recursively for ``extensions`` (case-insensitive) and for files with any
        other or no extension whose first bytes name an audio or video container
        (:func:`sniff`: a WAV saved as ``take.dat``, an M4A with no extension).
        Symlinked folders are followed once; loops are cut.

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
                    fp = Path(root) / name
                    if name.lower().endswith(exts) or (not name.startswith(".") and sniff(fp)):
                        if fp.is_symlink() and not fp.exists():
                            problems.append((str(fp), "broken symbolic link"))
                            continue
                        found.setdefault(str(fp), fp)
        else:
            problems.append((str(p), "no such file or folder"))
    return sorted(found.values()), problems
