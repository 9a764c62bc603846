"""Read labelled corpora, the NRC-VAD lexicon and the descriptor-pairs file, validated.

Reads only; writes nothing. Every problem raises :class:`va_utils.BadLabelError` naming
the file and, where there is one, the line.

Corpus loaders return a DataFrame with one row per audio file and at least the columns
``path`` (absolute), ``file`` (relative to the corpus root), ``corpus``, ``group`` (the
unit that must not be split across train and test), ``valence`` and ``arousal`` (both
in [-1, 1]). Extra label columns are kept (``emotion``, ``intensity``, the nine GEMS
shares, ...).

========================  ==========================================  ===============
loader                    targets                                     group
========================  ==========================================  ===============
:func:`load_generic_csv`  the CSV's ``valence``, ``arousal``          ``group`` or file
:func:`load_emo_soundscapes`  ratings, or 1 - 2 (rank - 1) / 1213     source recording
:func:`load_ravdess`      lexicon coordinates of the category word    actor
:func:`load_emotify`      GEMS-share-weighted mean of word coordinates  track
========================  ==========================================  ===============

Example::

    >>> from va_data_loader import load_lexicon, load_ravdess
    >>> lex = load_lexicon()                      # the shipped descriptor_lexicon.csv
    >>> df = load_ravdess("../shared/data/ravdess_speech", lexicon=lex)
"""
from __future__ import annotations

import csv
import io
import re
from pathlib import Path

import numpy as np
import pandas as pd

from va_utils import show, AUDIO_EXTENSIONS, DEFAULT_LEXICON, DEFAULT_PAIRS, BadLabelError

RAVDESS_EMOTIONS = {1: "neutral", 2: "calm", 3: "happy", 4: "sad", 5: "angry",
                    6: "fearful", 7: "disgust", 8: "surprised"}
GEMS = ("amazement", "solemnity", "tenderness", "nostalgia", "calmness", "power",
        "joyful_activation", "tension", "sadness")
# GEMS category -> lexicon words whose mean coordinates stand for it. NRC-VAD has no entry
# for the phrase "joyful activation", so it is the mean of "joyful" and "activation".
GEMS_WORDS = {g: (g,) for g in GEMS}
GEMS_WORDS["joyful_activation"] = ("joyful", "activation")
EMO_SOUNDSCAPES_N = 1213


# -------------------------------------------------------------------------- lexicon
def _read_text(path: Path) -> str:
    try:
        raw = path.read_bytes()
    except OSError as exc:
        raise BadLabelError(f"{path}: cannot read ({exc.strerror})") from None
    text = raw.decode("utf-8-sig", errors="replace")
    return text.replace("\r\n", "\n").replace("\r", "\n")  # old Mac CR line endings


def _lexicon_table(path: Path) -> pd.DataFrame:
    text = _read_text(path)
    sep = "\t" if "\t" in text.split("\n", 1)[0] else ","
    first = text.split("\n", 1)[0].split(sep)
    has_header = len(first) > 1 and not _is_number(first[1])
    df = pd.read_csv(io.StringIO(text), sep=sep, header=0 if has_header else None,
                     keep_default_na=False, quoting=csv.QUOTE_NONE if sep == "\t" else csv.QUOTE_MINIMAL)
    if not has_header:
        df.columns = ["term"] + [f"c{i}" for i in range(1, df.shape[1])]
    df.columns = [str(c).strip().lower() for c in df.columns]
    df = df.rename(columns={"word": "term"})
    return df


def _is_number(s: str) -> bool:
    try:
        float(s)
        return True
    except ValueError:
        return False


def load_lexicon(path=None, *, scale: str = "auto") -> pd.DataFrame:
    """Load NRC-VAD coordinates, indexed by term, with ``valence``/``arousal`` in [-1, 1].

    Parameters
    ----------
    path : path-like or None
        * None: the shipped ``data/descriptor_lexicon.csv`` (only the words this project uses);
        * a v2.1 single file (``term, valence, arousal, dominance``; tab-separated);
        * a ``OneFilePerDimension`` folder (``*valence*``, ``*arousal*`` files, or v1's
          ``v.scores``/``a.scores``);
        * a v1 file (``Word, Valence, Arousal, Dominance`` on a 0..1 scale).
    scale : {"auto", "-1..1", "0..1"}
        v1 scores (0..1) are rescaled as ``2 x - 1``. ``auto`` picks 0..1 when no score is
        negative.
    """
    path = Path(path) if path is not None else DEFAULT_LEXICON
    if path.is_dir():
        parts = {}
        for dim, pats in (("valence", ("*valence*", "v.scores")), ("arousal", ("*arousal*", "a.scores")),
                          ("dominance", ("*dominance*", "d.scores"))):
            hits = [p for pat in pats for p in sorted(path.glob(pat)) if p.is_file()]
            if not hits:
                if dim == "dominance":
                    continue
                raise BadLabelError(f"{path}: no {dim} file found (expected *{dim}*.txt or {pats[1]})")
            t = _lexicon_table(hits[0])
            col = dim if dim in t.columns else t.columns[1]
            parts[dim] = t.set_index("term")[col].rename(dim)
        df = pd.concat(parts.values(), axis=1, join="inner").reset_index()
    elif path.is_file():
        df = _lexicon_table(path)
    else:
        raise BadLabelError(f"{path}: no such lexicon file or folder")
    missing = [c for c in ("term", "valence", "arousal") if c not in df.columns]
    if missing:
        raise BadLabelError(f"{path}: lexicon lacks column(s) {missing}; found {list(df.columns)}")
    df["term"] = df["term"].astype(str).str.strip().str.lower()
    for c in ("valence", "arousal", "dominance"):
        if c in df.columns:
            num = pd.to_numeric(df[c], errors="coerce")
            bad = num.isna()
            if bad.any():
                i = int(np.flatnonzero(bad.to_numpy())[0])
                raise BadLabelError(f"{path}, line {i + 2}: {c} of {df['term'].iloc[i]!r} is {show(df[c].iloc[i])}, expected a number")
            df[c] = num
    vals = df[["valence", "arousal"]].to_numpy()
    if scale == "0..1" or (scale == "auto" and vals.min() >= 0):
        for c in ("valence", "arousal", "dominance"):
            if c in df.columns:
                df[c] = 2 * df[c] - 1
    if np.abs(df[["valence", "arousal"]].to_numpy()).max() > 1 + 1e-9:
        raise BadLabelError(f"{path}: scores outside -1..1 after rescaling; pass scale='0..1' or '-1..1'")
    df = df.drop_duplicates("term").set_index("term")
    return df[[c for c in ("valence", "arousal", "dominance") if c in df.columns]]


def word_coords(lexicon: pd.DataFrame, words, *, source="lexicon") -> np.ndarray:
    """Coordinates (n, 2) of ``words``; a tuple entry means the mean of several words."""
    out = []
    for w in words:
        group = (w,) if isinstance(w, str) else tuple(w)
        missing = [g for g in group if g.lower() not in lexicon.index]
        if missing:
            raise BadLabelError(f"{source}: word(s) {missing} not in the lexicon; "
                                "pass --lexicon with a full NRC-VAD copy or pick other words")
        out.append(lexicon.loc[[g.lower() for g in group], ["valence", "arousal"]].to_numpy().mean(axis=0))
    return np.asarray(out, dtype=float).reshape(-1, 2)


def load_descriptor_pairs(path=None, *, lexicon: pd.DataFrame | None = None) -> pd.DataFrame:
    """Load the descriptor pairs (columns ``word_a, word_b``), optionally checked against ``lexicon``.

    Every word must be unique across pairs, because scores are stored per word.
    """
    path = Path(path) if path is not None else DEFAULT_PAIRS
    text = _read_text(path)
    df = pd.read_csv(io.StringIO(text), dtype=str, keep_default_na=False, comment="#")
    if list(df.columns[:2]) != ["word_a", "word_b"]:
        raise BadLabelError(f"{path}: header must start with word_a,word_b; found {list(df.columns)}")
    df["word_a"] = df["word_a"].str.strip().str.lower()
    df["word_b"] = df["word_b"].str.strip().str.lower()
    for i, (a, b) in enumerate(zip(df["word_a"], df["word_b"])):
        if not a or not b or a == b:
            raise BadLabelError(f"{path}, line {i + 2}: a pair needs two different words, got {a!r}/{b!r}")
    words = pd.concat([df["word_a"], df["word_b"]])
    dup = words[words.duplicated()]
    if len(dup):
        raise BadLabelError(f"{path}: word {dup.iloc[0]!r} appears in more than one pair; each word may be used once")
    if df.empty:
        raise BadLabelError(f"{path}: no pairs")
    if lexicon is not None:
        word_coords(lexicon, words, source=str(path))
    return df.reset_index(drop=True)


# -------------------------------------------------------------------------- corpora
def _check_targets(df: pd.DataFrame, source: str) -> pd.DataFrame:
    for c in ("valence", "arousal"):
        bad = ~np.isfinite(df[c].to_numpy(dtype=float))
        if bad.any():
            raise BadLabelError(f"{source}: {c} undefined for {df['file'].iloc[int(np.flatnonzero(bad)[0])]!r}")
    return df


def load_generic_csv(csv_path, audio_root=None) -> pd.DataFrame:
    """Load ``file,valence,arousal[,group]`` with paths relative to ``audio_root``.

    ``audio_root`` defaults to the CSV's folder. Without a ``group`` column each file is
    its own group.
    """
    csv_path = Path(csv_path)
    root = Path(audio_root) if audio_root is not None else csv_path.parent
    text = _read_text(csv_path)
    try:
        df = pd.read_csv(io.StringIO(text), dtype={"file": str, "group": str})
    except (pd.errors.ParserError, pd.errors.EmptyDataError) as exc:
        raise BadLabelError(f"{csv_path}: not a readable CSV ({str(exc).splitlines()[0]})") from None
    missing = [c for c in ("file", "valence", "arousal") if c not in df.columns]
    if missing:
        raise BadLabelError(f"{csv_path}: missing column(s) {missing}; expected file,valence,arousal[,group]")
    for c in ("valence", "arousal"):
        num = pd.to_numeric(df[c], errors="coerce")
        bad = ~np.isfinite(num.to_numpy(dtype=float))
        if bad.any():
            i = int(np.flatnonzero(bad)[0])
            raise BadLabelError(f"{csv_path}, line {i + 2}: {c} is {show(df[c].iloc[i])}, expected a finite number")
        df[c] = num
    blank = df["file"].isna() | (df["file"].astype(str).str.strip() == "")
    if blank.any():
        raise BadLabelError(f"{csv_path}, line {int(np.flatnonzero(blank.to_numpy())[0]) + 2}: empty file name")
    dup = df["file"].duplicated()
    if dup.any():
        i = int(np.flatnonzero(dup.to_numpy())[0])
        raise BadLabelError(f"{csv_path}, line {i + 2}: file {df['file'].iloc[i]!r} listed twice")
    df["path"] = [str((root / f).resolve()) for f in df["file"]]
    if "group" not in df.columns:
        df["group"] = df["file"]
    df["group"] = df["group"].fillna(df["file"]).astype(str)
    df["corpus"] = csv_path.stem
    return df


def _read_two_columns(path: Path, value_name: str) -> pd.DataFrame:
    """Emo-Soundscapes ``filename,value`` files: no header, CR line endings tolerated."""
    rows = []
    for n, line in enumerate(_read_text(path).split("\n"), start=1):
        if not line.strip():
            continue
        parts = [p.strip().strip('"') for p in line.split(",")]
        if len(parts) < 2:
            raise BadLabelError(f"{path}, line {n}: expected 'filename,{value_name}', got {line!r}")
        if not _is_number(parts[1]):
            if n == 1:  # a header row
                continue
            raise BadLabelError(f"{path}, line {n}: {value_name} {parts[1]!r} is not a number")
        rows.append((parts[0], float(parts[1]), n))
    df = pd.DataFrame(rows, columns=["filename", value_name, "line"])
    dup = df["filename"].duplicated()
    if dup.any():
        raise BadLabelError(f"{path}, line {int(df['line'][dup].iloc[0])}: {df['filename'][dup].iloc[0]!r} listed twice")
    return df.drop(columns="line")


def rank_to_rating(rank) -> np.ndarray:
    """Emo-Soundscapes rank (1..1213) to rating: ``1 - 2 (rank - 1) / 1213``."""
    return 1.0 - 2.0 * (np.asarray(rank, dtype=float) - 1.0) / EMO_SOUNDSCAPES_N


def load_emo_soundscapes(root, *, mix_map=None) -> pd.DataFrame:
    """Load the Emo-Soundscapes layout under ``root``.

    Uses ``Emo-Soundscapes-Ratings/{Valence,Arousal}.csv`` when present, else converts
    ``Emo-Soundscapes-Rankings/`` with :func:`rank_to_rating`. Audio is found recursively
    under ``Emo-Soundscapes-Audio/`` by file name.

    The group is the source recording: a mix is linked to every source clip whose file
    stem occurs in the mix's path, or to the sources listed for it in ``mix_map`` (a CSV
    ``mix,source``); linked files form one group (union-find). Mixes whose sources cannot
    be identified share one conservative group, ``mix:unidentified``.
    """
    root = Path(root)
    audio_dir = root / "Emo-Soundscapes-Audio"
    if not audio_dir.is_dir():
        raise BadLabelError(f"{root}: no Emo-Soundscapes-Audio/ folder")
    ratings = root / "Emo-Soundscapes-Ratings"
    tables = {}
    for dim in ("Valence", "Arousal"):
        rp, kp = ratings / f"{dim}.csv", root / "Emo-Soundscapes-Rankings" / f"{dim}.csv"
        if rp.is_file():
            t = _read_two_columns(rp, "value")
        elif kp.is_file():
            t = _read_two_columns(kp, "rank")
            bad = (t["rank"] < 1) | (t["rank"] > EMO_SOUNDSCAPES_N) | (t["rank"] % 1 != 0)
            if bad.any():
                raise BadLabelError(f"{kp}: rank {t['rank'][bad].iloc[0]!r} outside 1..{EMO_SOUNDSCAPES_N}")
            t["value"] = rank_to_rating(t.pop("rank"))
        else:
            raise BadLabelError(f"{root}: neither {rp} nor {kp} exists")
        tables[dim.lower()] = t.set_index("filename")["value"]
    df = pd.concat(tables, axis=1, join="inner").reset_index().rename(columns={"index": "filename"})
    audio = {p.name: p for p in sorted(audio_dir.rglob("*")) if p.suffix.lower() in AUDIO_EXTENSIONS}
    df["path"] = [str(audio[f].resolve()) if f in audio else str(audio_dir / f) for f in df["filename"]]
    df["file"] = [str(Path(p).relative_to(root.resolve())) if f in audio else f"Emo-Soundscapes-Audio/{f}"
                  for f, p in zip(df["filename"], df["path"])]
    df["is_mix"] = [("mix" in str(Path(p).parent).lower()) for p in df["path"]]
    df["group"] = _soundscape_groups(df, mix_map)
    df["corpus"] = "emo-soundscapes"
    return _check_targets(df.drop(columns="filename"), str(root))


def _soundscape_groups(df: pd.DataFrame, mix_map) -> list[str]:
    parent = {f: f for f in df["filename"]}

    def find(x):
        while parent[x] != x:
            parent[x] = parent[parent[x]]
            x = parent[x]
        return x

    def union(a, b):
        parent[find(a)] = find(b)

    sources = df.loc[~df["is_mix"], "filename"].tolist()
    stems = {Path(s).stem.lower(): s for s in sources if len(Path(s).stem) >= 3}
    links: dict[str, set] = {m: set() for m in df.loc[df["is_mix"], "filename"]}
    if mix_map is not None:
        mm = pd.read_csv(mix_map, dtype=str)
        if not {"mix", "source"} <= set(mm.columns):
            raise BadLabelError(f"{mix_map}: expected columns mix,source")
        for m, s in zip(mm["mix"], mm["source"]):
            if m in links and s in parent:
                links[m].add(s)
    for m, p in zip(df["filename"], df["path"]):
        if m in links and not links[m]:
            hay = str(p).lower()
            links[m] = {src for stem, src in stems.items() if re.search(rf"(?<![0-9a-z]){re.escape(stem)}(?![0-9a-z])", hay)}
    for m, srcs in links.items():
        for s in srcs:
            union(m, s)
    unknown = {m for m, s in links.items() if not s}
    return ["mix:unidentified" if f in unknown else f"src:{find(f)}" for f in df["filename"]]


_RAVDESS_RE = re.compile(r"^(\d\d)-(\d\d)-(\d\d)-(\d\d)-(\d\d)-(\d\d)-(\d\d)$")


def parse_ravdess_name(name: str) -> dict:
    """Parse ``MM-VV-EE-II-SS-RR-AA[.ext]`` into its labels.

    Returns
    -------
    dict with ``modality, channel, emotion (word), emotion_id, intensity ('normal'|'strong'),
    statement, repetition, actor (int 1..24), sex``.
    """
    m = _RAVDESS_RE.match(Path(name).stem)
    if not m:
        raise BadLabelError(f"{name}: not a RAVDESS name (expected MM-VV-EE-II-SS-RR-AA)")
    mm, vv, ee, ii, ss, rr, aa = (int(g) for g in m.groups())
    if ee not in RAVDESS_EMOTIONS or ii not in (1, 2) or not 1 <= aa <= 24:
        raise BadLabelError(f"{name}: emotion {ee:02d}, intensity {ii:02d} or actor {aa:02d} out of range")
    if ee == 1 and ii == 2:
        raise BadLabelError(f"{name}: neutral has no strong intensity in RAVDESS")
    return {"modality": mm, "channel": vv, "emotion": RAVDESS_EMOTIONS[ee], "emotion_id": ee,
            "intensity": "normal" if ii == 1 else "strong", "statement": ss, "repetition": rr,
            "actor": aa, "sex": "male" if aa % 2 else "female"}


def load_ravdess(root, *, lexicon: pd.DataFrame | None = None) -> pd.DataFrame:
    """Load RAVDESS from ``root`` (``Actor_XX/MM-VV-EE-II-SS-RR-AA.<ext>``).

    Valence and arousal are the lexicon coordinates of the category word (see
    :data:`RAVDESS_EMOTIONS`); the intensity is kept as a label. Group: the actor.
    """
    root = Path(root)
    if not root.is_dir():
        raise BadLabelError(f"{root}: no such folder")
    lexicon = load_lexicon() if lexicon is None else lexicon
    files = sorted(p for p in root.rglob("*") if p.suffix.lower() in AUDIO_EXTENSIONS)
    if not files:
        raise BadLabelError(f"{root}: no audio files found")
    rows = []
    for p in files:
        lab = parse_ravdess_name(p.name)
        rows.append({"path": str(p.resolve()), "file": str(p.relative_to(root)), **lab})
    df = pd.DataFrame(rows)
    words = list(RAVDESS_EMOTIONS.values())
    coords = dict(zip(words, word_coords(lexicon, words, source="RAVDESS categories")))
    df["valence"] = [coords[e][0] for e in df["emotion"]]
    df["arousal"] = [coords[e][1] for e in df["emotion"]]
    df["group"] = [f"actor{a:02d}" for a in df["actor"]]
    df["corpus"] = "ravdess"
    return _check_targets(df, str(root))


def gems_to_va(shares: np.ndarray, lexicon: pd.DataFrame) -> np.ndarray:
    """Share-weighted mean of the GEMS words' (valence, arousal); shape (n, 2).

    Rows whose shares sum to 0 give NaN.
    """
    coords = word_coords(lexicon, [GEMS_WORDS[g] for g in GEMS], source="GEMS categories")
    shares = np.asarray(shares, dtype=float)
    tot = shares.sum(axis=1, keepdims=True)
    with np.errstate(invalid="ignore", divide="ignore"):
        return np.where(tot > 0, shares @ coords / tot, np.nan)


def load_emotify(root, *, lexicon: pd.DataFrame | None = None) -> pd.DataFrame:
    """Load Emotify ``labels.csv`` from ``root``: GEMS shares kept, VA from :func:`gems_to_va`.

    Group: the track.
    """
    root = Path(root)
    lab = root / "labels.csv"
    if not lab.is_file():
        raise BadLabelError(f"{root}: no labels.csv")
    lexicon = load_lexicon() if lexicon is None else lexicon
    df = pd.read_csv(lab, dtype={"file": str})
    need = ["track_id", "genre", "file", *GEMS]
    missing = [c for c in need if c not in df.columns]
    if missing:
        raise BadLabelError(f"{lab}: missing column(s) {missing}")
    for c in ["track_id", *GEMS]:
        num = pd.to_numeric(df[c], errors="coerce")
        bad = num.isna() | ((num < 0) | (num > 1) if c != "track_id" else False)
        if bad.any():
            i = int(np.flatnonzero(bad.to_numpy())[0])
            raise BadLabelError(f"{lab}, line {i + 2}: {c} is {show(df[c].iloc[i])}, expected a share in 0..1")
        df[c] = num
    dup = df["track_id"].duplicated()
    if dup.any():
        raise BadLabelError(f"{lab}, line {int(np.flatnonzero(dup.to_numpy())[0]) + 2}: track_id listed twice")
    va = gems_to_va(df[list(GEMS)].to_numpy(), lexicon)
    df["valence"], df["arousal"] = va[:, 0], va[:, 1]
    df["path"] = [str((root / f).resolve()) for f in df["file"]]
    df["group"] = [f"track{int(t)}" for t in df["track_id"]]
    df["corpus"] = "emotify"
    return _check_targets(df, str(lab))



# EmoGator's 30 intended-emotion categories -> the lexicon words whose mean coordinates are
# its valence/arousal targets (as for RAVDESS). Two categories need a word of their own.
EMOGATOR_WORDS = {
    "Adoration": ("adoration",), "Amusement": ("amusement",), "Anger": ("anger",), "Awe": ("awe",),
    "Confusion": ("confusion",), "Contempt": ("contempt",), "Contentment": ("contentment",),
    "Desire": ("desire",), "Disappointment": ("disappointment",), "Disgust": ("disgust",),
    "Distress": ("distress",), "Ecstasy": ("ecstasy",), "Elation": ("elation",),
    "Embarrassment": ("embarrassment",), "Fear": ("fear",), "Guilt": ("guilt",), "Interest": ("interest",),
    "Neutral": ("neutral",), "Pain": ("pain",), "Pride": ("pride",), "Realization": ("realization",),
    "Relief": ("relief",), "Romantic Love": ("romantic", "love"), "Sadness": ("sadness",),
    "Serenity": ("serenity",), "Shame": ("shame",), "Surprise (Negative)": ("shock",),
    "Surprise (Positive)": ("surprise",), "Sympathy": ("sympathy",), "Triumph": ("triumph",),
}

SONANCIA_DIMENSIONS = ("arousal", "valence", "tension")


def load_sonancia(root) -> tuple[pd.DataFrame, dict]:
    """Load the Sonancia game sound effects and their pairwise judgements from ``root``.

    Returns
    -------
    clips : DataFrame
        One row per audio file under ``root/sounds``: ``path`` (absolute), ``file``,
        ``clip`` (the file's stem), ``corpus`` ("sonancia") and ``group`` (the clip: each
        clip is its own source recording). No valence/arousal values: the labels are pairs.
    pairs : dict
        ``{dimension: DataFrame(preferred, unpreferred)}`` for arousal, valence and tension,
        one row per crowd judgement (repeats and contradictions kept). Pairs naming a clip
        with no audio are dropped.
    """
    root = Path(root)
    sounds = root / "sounds"
    files = sorted(p for p in sounds.glob("*") if p.suffix.lower() in AUDIO_EXTENSIONS) if sounds.is_dir() else []
    if not files:
        raise BadLabelError(f"{root}: no audio files in sounds/")
    clips = pd.DataFrame({"path": [str(p.resolve()) for p in files], "file": [f"sounds/{p.name}" for p in files],
                          "clip": [p.stem for p in files]})
    clips["corpus"], clips["group"] = "sonancia", clips["clip"]
    known = set(clips["clip"])
    pairs = {}
    for dim in SONANCIA_DIMENSIONS:
        f = root / f"{dim}_pairs.csv"
        if not f.is_file():
            raise BadLabelError(f"{root}: no {f.name}")
        rows = [r for r in csv.reader(io.StringIO(_read_text(f))) if r and any(c.strip() for c in r)]
        if rows and rows[0][:2] == ["preferred", "unpreferred"]:
            rows = rows[1:]
        bad = [i for i, r in enumerate(rows) if len(r) != 2]
        if bad:
            raise BadLabelError(f"{f}, line {bad[0] + 1}: expected 'preferred,unpreferred', got {show(rows[bad[0]])}")
        df = pd.DataFrame([[a.strip(), b.strip()] for a, b in rows], columns=["preferred", "unpreferred"])
        pairs[dim] = df[df["preferred"].isin(known) & df["unpreferred"].isin(known)].reset_index(drop=True)
    return clips, pairs


def load_sievers(root) -> pd.DataFrame:
    """Load the Sievers et al. (2017) synthetic sounds from ``root`` (``labels.csv``, ``sounds/``).

    Arousal is ``2 * p_high_arousal - 1`` (the share of listeners' high-arousal choices on
    [-1, 1]); there is no valence (NaN: the two-choice framing fixes valence, not the sound).
    Group: the stimulus (``stim``), which recurs across the five parameter bins.
    """
    root = Path(root)
    lab = root / "labels.csv"
    if not lab.is_file():
        raise BadLabelError(f"{root}: no labels.csv")
    df = pd.read_csv(lab, dtype={"file": str, "stim": str, "method": str})
    missing = [c for c in ("file", "stim", "method", "p_high_arousal") if c not in df.columns]
    if missing:
        raise BadLabelError(f"{lab}: missing column(s) {missing}")
    p = pd.to_numeric(df["p_high_arousal"], errors="coerce")
    bad = p.isna() | (p < 0) | (p > 1)
    if bad.any():
        i = int(np.flatnonzero(bad.to_numpy())[0])
        raise BadLabelError(f"{lab}, line {i + 2}: p_high_arousal is {show(df['p_high_arousal'].iloc[i])}, "
                            "expected a share in 0..1")
    df["path"] = [str((root / "sounds" / f).resolve()) for f in df["file"]]
    df["file"] = [f"sounds/{f}" for f in df["file"]]
    df["arousal"] = 2.0 * p - 1.0
    df["valence"] = np.nan
    df["group"] = [f"stim{s}" for s in df["stim"]]
    df["corpus"] = "sievers"
    return df


def load_emogator(root, *, lexicon: pd.DataFrame | None = None, instances=None) -> pd.DataFrame:
    """Load the EmoGator vocal bursts from ``root`` (``labels.csv``, ``sounds/``).

    Valence and arousal are the lexicon coordinates of the category words
    (:data:`EMOGATOR_WORDS`); the category is kept as ``burst_emotion``. Group: the
    contributor (a speaker must not be on both sides of a split). ``instances``: keep only
    these takes (1-3) of each contributor and category (None: all).
    """
    root = Path(root)
    lab = root / "labels.csv"
    if not lab.is_file():
        raise BadLabelError(f"{root}: no labels.csv")
    lexicon = load_lexicon() if lexicon is None else lexicon
    df = pd.read_csv(lab, dtype={"file": str, "category": str})
    missing = [c for c in ("file", "contributor", "category", "instance") if c not in df.columns]
    if missing:
        raise BadLabelError(f"{lab}: missing column(s) {missing}")
    unknown = sorted(set(df["category"]) - set(EMOGATOR_WORDS))
    if unknown:
        raise BadLabelError(f"{lab}: unknown categor{'y' if len(unknown) == 1 else 'ies'} {unknown}")
    if instances is not None:
        df = df[df["instance"].isin(list(instances))].reset_index(drop=True)
    cats = list(EMOGATOR_WORDS)
    coords = dict(zip(cats, word_coords(lexicon, [EMOGATOR_WORDS[c] for c in cats], source="EmoGator categories")))
    df["valence"] = [coords[c][0] for c in df["category"]]
    df["arousal"] = [coords[c][1] for c in df["category"]]
    df["path"] = [str((root / "sounds" / f).resolve()) for f in df["file"]]
    df["file"] = [f"sounds/{f}" for f in df["file"]]
    df["burst_emotion"] = df["category"].str.lower()
    df["group"] = [f"contributor{int(c):03d}" for c in df["contributor"]]
    df["corpus"] = "emogator"
    df = df.drop(columns=["category"])
    return _check_targets(df, str(lab))


def pair_scores(clips, pairs: pd.DataFrame) -> np.ndarray:
    """Per-clip scores on [-1, 1] from pairwise judgements: a Bradley-Terry fit, rescaled.

    ``clips``: the clip names; ``pairs``: ``preferred, unpreferred`` rows (the preferred
    clip is the higher one). A small ridge (one virtual tie with every other clip) keeps
    clips that always win or always lose finite. The strengths are min-max scaled to
    [-1, 1]: the order is what the crowd judged, the scale is not.
    """
    clips = list(clips)
    ix = {c: i for i, c in enumerate(clips)}
    n = len(clips)
    wins = np.zeros((n, n))
    for a, b in zip(pairs["preferred"], pairs["unpreferred"]):
        wins[ix[a], ix[b]] += 1
    wins += 0.5 / max(n - 1, 1) * (1 - np.eye(n))          # the virtual ties
    games = wins + wins.T
    p = np.ones(n)
    for _ in range(500):                                    # Zermelo / MM iterations
        denom = (games / (p[:, None] + p[None, :])).sum(axis=1)
        new = wins.sum(axis=1) / np.maximum(denom, 1e-12)
        new /= np.exp(np.log(new).mean())
        if np.max(np.abs(np.log(new) - np.log(p))) < 1e-9:
            p = new
            break
        p = new
    s = np.log(p)
    return 2 * (s - s.min()) / max(s.max() - s.min(), 1e-12) - 1


def load_sonancia_targets(root) -> pd.DataFrame:
    """Sonancia clips with per-clip ``valence``, ``arousal`` and ``sonancia_tension`` from
    :func:`pair_scores` (group: the clip). The tension keeps a name of its own: Emotify's
    ``tension`` is a share of listeners, a different scale."""
    clips, pairs = load_sonancia(root)
    for dim in SONANCIA_DIMENSIONS:
        clips[dim if dim != "tension" else "sonancia_tension"] = pair_scores(clips["clip"], pairs[dim])
    return clips


_GROUP_PREFIXES = (("actor", "ravdess"), ("track", "emotify"), ("stim", "sievers"), ("contributor", "emogator"))
_SONANCIA_GROUP = re.compile(r"^\d+_\d+_C\d+_\d+$")


def corpus_of_group(group) -> str:
    """The corpus a training group belongs to, from the group names the loaders write.

    ``actorNN`` RAVDESS, ``trackN`` Emotify, ``stim...`` Sievers, ``contributorNNN``
    EmoGator, a Sonancia clip name (``10_1_C1_20``) Sonancia; anything else "other" (one
    pool, e.g. a generic CSV's groups). Used to give every corpus the same weight.
    """
    g = str(group)
    for prefix, corpus in _GROUP_PREFIXES:
        if g.startswith(prefix) and g[len(prefix):len(prefix) + 1].isalnum():
            return corpus
    return "sonancia" if _SONANCIA_GROUP.match(g) else "other"


CORPUS_KINDS = ("ravdess", "emotify", "sonancia", "sievers", "emogator", "emo-soundscapes", "csv")


def load_corpus(kind: str, path, *, lexicon=None, audio_root=None, instances=None) -> pd.DataFrame:
    """Dispatch on ``kind`` in :data:`CORPUS_KINDS` (``instances``: EmoGator's takes to keep)."""
    if kind == "ravdess":
        return load_ravdess(path, lexicon=lexicon)
    if kind == "emotify":
        return load_emotify(path, lexicon=lexicon)
    if kind == "emo-soundscapes":
        return load_emo_soundscapes(path)
    if kind == "csv":
        return load_generic_csv(path, audio_root)
    if kind == "sonancia":
        return load_sonancia_targets(path)
    if kind == "sievers":
        return load_sievers(path)
    if kind == "emogator":
        return load_emogator(path, lexicon=lexicon, instances=instances)
    raise BadLabelError(f"unknown corpus kind {kind!r}; expected one of {', '.join(CORPUS_KINDS)}")
