"""Faces in a video's picture: where they are, which expression, followed over time.

Reads ``models/face/face_detection_full_range.tflite`` (MediaPipe BlazeFace full range,
Apache-2.0) and ``models/face/fer_mini_xception_quant.tflite`` (mini-Xception trained on
FER2013, MIT), each checked against its sha256 before it is loaded (see
``models/face/README.md``), and video files through PyAV. Writes nothing: frames and face
crops stay in memory and are dropped, unless a caller asks for thumbnails
(:func:`analyse_video` ``thumbnails=True``).

The steps, each a function a notebook can call:

* :func:`iter_frames` decodes a video once, keeping about ``fps`` frames per second
  (RGB, display rotation applied), one at a time: memory stays flat in the video's length.
* :func:`detect` finds faces (boxes in pixels, a score, six keypoints).
* :func:`expressions` gives each face's seven probabilities (:data:`EXPRESSIONS`).
* :func:`track` links the faces of successive frames; the **main face** is the track
  with the largest summed area (large and persistent).
* :func:`windows` pools the main face's probabilities per window: ``face_label``, its
  probability, a face valence/arousal (the probability-weighted lexicon coordinates of the
  class words, as for the speech categories), ``faces_seen`` (most faces in one frame).
* :func:`fuse` joins a window's face and voice answers (see its docstring).

Example::

    >>> import va_faces
    >>> frames, summary = va_faces.analyse_video("scene.mp4", fps=4)
    >>> va_faces.windows(frames, [(0, 3), (1, 4)]).face_label.tolist()
    ['happy', 'happy']
"""
from __future__ import annotations

import functools
import threading
import warnings
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pandas as pd

from va_utils import MODELS_DIR, EmoTagError, tflite_interpreter

FACE_DIR = MODELS_DIR / "face"
DETECTOR_FILE = FACE_DIR / "face_detection_full_range.tflite"
EXPRESSION_FILE = FACE_DIR / "fer_mini_xception_quant.tflite"
DETECTOR_SHA256 = "99bf9494d84f50acc6617d89873f71bf6635a841ea699c17cb3377f9507cfec3"
EXPRESSION_SHA256 = "65e3961bb68f497bd02a8d075da8409364db90004edb80c0c6cb15647c4de559"

#: The classifier's outputs, in order (FER2013's classes).
EXPRESSIONS = ("angry", "disgust", "fear", "happy", "sad", "surprise", "neutral")
#: The emotion word each class stands for: the speech classifier's (RAVDESS) words, so a
#: face and a voice answer in one vocabulary and one valence/arousal space.
EXPRESSION_WORDS = {"angry": "angry", "disgust": "disgust", "fear": "fearful", "happy": "happy", "sad": "sad",
                    "surprise": "surprised", "neutral": "neutral"}
LABELS = tuple(EXPRESSION_WORDS[e] for e in EXPRESSIONS)

DETECTOR_SIZE = 192          #: BlazeFace full range's square input, pixels
GRID = 48                    #: its anchors: one per cell of a 48 x 48 grid (stride 4)
MIN_SCORE = 0.6              #: MediaPipe's score threshold for this model
NMS_IOU = 0.3                #: MediaPipe's suppression threshold (weighted NMS)
TILE = 400                   #: tile side (pixels) of the small-face search
CROP_MARGIN = 0.2            #: the expression crop: the detector's box grown by this share on each side
CROP_SIZE = 64               #: the classifier's square grey input
TRACK_IOU = 0.3              #: a face continues a track when its box overlaps the track's last box this much
DEFAULT_FPS = 4.0
#: Test-time augmentation (the mirrored crop averaged in), on by the rule declared in
#: ``bench/bench_faces.py``: it raised balanced accuracy on CK+48 (0.617 -> 0.625) and held
#: on FER2013 PrivateTest and JAFFE, where it was not chosen (docs/BENCHMARKS.md, "Faces").
TTA = True


# ------------------------------------------------------------------ models
class _Lite:
    """One LiteRT interpreter on one thread, refused unless its file's sha256 matches."""

    def __init__(self, path: Path, sha256: str, what: str):
        self.it = tflite_interpreter(path, sha256, what)
        self.input = self.it.get_input_details()[0]["index"]
        self.outputs = [d["index"] for d in self.it.get_output_details()]
        self.lock = threading.Lock()

    def __call__(self, x: np.ndarray) -> list[np.ndarray]:
        with self.lock:
            self.it.set_tensor(self.input, x)
            self.it.invoke()
            return [self.it.get_tensor(i).copy() for i in self.outputs]


@functools.lru_cache(maxsize=1)
def _detector() -> _Lite:
    return _Lite(DETECTOR_FILE, DETECTOR_SHA256, "face detector")


@functools.lru_cache(maxsize=1)
def _classifier() -> _Lite:
    return _Lite(EXPRESSION_FILE, EXPRESSION_SHA256, "facial-expression")


@functools.lru_cache(maxsize=1)
def _anchors() -> np.ndarray:
    """Anchor centres (x, y) in 0..1, row-major over the 48 x 48 grid (MediaPipe's SSD anchors,
    one layer, stride 4, offset 0.5, fixed anchor size)."""
    c = (np.arange(GRID) + 0.5) / GRID
    yy, xx = np.meshgrid(c, c, indexing="ij")
    return np.column_stack([xx.ravel(), yy.ravel()])


# ------------------------------------------------------------------ detection
@dataclass
class Face:
    """One detected face: ``box`` (x0, y0, x1, y1) in the frame's pixels, detector ``score``,
    six ``keypoints`` (x, y) in pixels, and, once classified, the seven ``probs``."""
    box: tuple
    score: float
    keypoints: np.ndarray = field(repr=False)
    probs: np.ndarray | None = None

    @property
    def area(self) -> float:
        x0, y0, x1, y1 = self.box
        return max(0.0, x1 - x0) * max(0.0, y1 - y0)


def _iou(a, b) -> float:
    ix = max(0.0, min(a[2], b[2]) - max(a[0], b[0]))
    iy = max(0.0, min(a[3], b[3]) - max(a[1], b[1]))
    inter = ix * iy
    union = (a[2] - a[0]) * (a[3] - a[1]) + (b[2] - b[0]) * (b[3] - b[1]) - inter
    return inter / union if union > 0 else 0.0


def _letterbox(rgb: np.ndarray) -> tuple[np.ndarray, float, float, float]:
    """The frame scaled into the detector's square input (aspect kept, zero padding):
    ``(input, scale, pad_x, pad_y)`` with pads in input pixels."""
    from PIL import Image
    h, w = rgb.shape[:2]
    s = DETECTOR_SIZE / max(h, w)
    nw, nh = max(1, round(w * s)), max(1, round(h * s))
    img = np.asarray(Image.fromarray(rgb).resize((nw, nh), Image.BILINEAR), dtype=np.float32)
    out = np.zeros((DETECTOR_SIZE, DETECTOR_SIZE, 3), np.float32)
    px, py = (DETECTOR_SIZE - nw) // 2, (DETECTOR_SIZE - nh) // 2
    out[py:py + nh, px:px + nw] = img
    return out / 127.5 - 1.0, s, px, py


def detect(rgb: np.ndarray, *, min_score: float = MIN_SCORE) -> list[Face]:
    """Faces in one RGB frame (uint8, shape (h, w, 3)), largest first.

    BlazeFace full range on the letterboxed frame; boxes decoded from the anchors and merged
    by MediaPipe's weighted non-maximum suppression (overlapping detections are averaged,
    weighted by score).
    """
    rgb = np.asarray(rgb)
    if rgb.ndim != 3 or rgb.shape[2] != 3 or min(rgb.shape[:2]) < 8:
        raise EmoTagError(f"detect needs an RGB frame of shape (h, w, 3), given {rgb.shape}")
    x, s, px, py = _letterbox(rgb.astype(np.uint8, copy=False))
    reg, logit = _detector()(x[None])
    if reg.shape[-1] != 16:            # the outputs' order is not guaranteed: regressors have 16 values
        reg, logit = logit, reg
    reg, logit = reg[0], logit[0, :, 0]
    score = 1.0 / (1.0 + np.exp(-np.clip(logit, -100, 100)))
    keep = np.flatnonzero(score >= min_score)
    if keep.size == 0:
        return []
    a = _anchors()[keep]
    r = reg[keep] / DETECTOR_SIZE
    cx, cy, bw, bh = r[:, 0] + a[:, 0], r[:, 1] + a[:, 1], r[:, 2], r[:, 3]
    boxes = np.column_stack([cx - bw / 2, cy - bh / 2, cx + bw / 2, cy + bh / 2])
    kps = r[:, 4:16].reshape(-1, 6, 2) + a[:, None, :]
    sc = score[keep]
    # weighted NMS
    order = np.argsort(-sc)
    faces = []
    h, w = rgb.shape[:2]

    def to_px(v, axis):          # input-normalised -> frame pixels
        pad = px if axis == 0 else py
        lim = w if axis == 0 else h
        return np.clip((v * DETECTOR_SIZE - pad) / s, 0, lim)

    while order.size:
        i = order[0]
        ious = np.array([_iou(boxes[i], boxes[j]) for j in order])
        group = order[ious >= NMS_IOU]
        wts = sc[group][:, None]
        b = (boxes[group] * wts).sum(0) / wts.sum()
        k = (kps[group] * wts[:, :, None]).sum(0) / wts.sum()
        box = (float(to_px(b[0], 0)), float(to_px(b[1], 1)), float(to_px(b[2], 0)), float(to_px(b[3], 1)))
        if box[2] - box[0] >= 2 and box[3] - box[1] >= 2:
            faces.append(Face(box, float(sc[i]), np.column_stack([to_px(k[:, 0], 0), to_px(k[:, 1], 1)])))
        order = order[ious < NMS_IOU]
    return sorted(faces, key=lambda f: -f.area)


def _offset(faces, dx, dy):
    for f in faces:
        f.box = (f.box[0] + dx, f.box[1] + dy, f.box[2] + dx, f.box[3] + dy)
        f.keypoints = f.keypoints + (dx, dy)
    return faces


def _merge(faces: list[Face]) -> list[Face]:
    """Faces found by overlapping tiles: the best-scored of each overlapping group, largest first."""
    kept = []
    for f in sorted(faces, key=lambda f: -f.score):
        if all(_iou(f.box, k.box) < NMS_IOU for k in kept):
            kept.append(f)
    return sorted(kept, key=lambda f: -f.area)


def detect_tiles(rgb: np.ndarray, *, tile: int = TILE, min_score: float = MIN_SCORE) -> list[Face]:
    """Small faces: :func:`detect` on overlapping square tiles of ``tile`` pixels (a quarter
    overlap), merged. In a 720p frame, 8 tiles of 400 pixels find a face 5% of the frame
    high, which the whole letterboxed frame (a 36-pixel face shrunk to 5) misses."""
    h, w = rgb.shape[:2]
    t = min(tile, h, w)

    def starts(n):
        if n <= t:
            return [0]
        k = int(np.ceil((n - t) / (0.75 * t))) + 1
        return [int(round(i * (n - t) / (k - 1))) for i in range(k)]
    found = []
    for y in starts(h):
        for x in starts(w):
            found += _offset(detect(rgb[y:y + t, x:x + t], min_score=min_score), x, y)
    return _merge(found)


def detect_near(rgb: np.ndarray, box, *, min_score: float = MIN_SCORE) -> list[Face]:
    """:func:`detect` in a square region around ``box`` (four times its size, at least the
    detector's input): follows a small face found by :func:`detect_tiles` at the cost of
    one detection."""
    h, w = rgb.shape[:2]
    side = int(max(DETECTOR_SIZE, 4 * max(box[2] - box[0], box[3] - box[1])))
    side = min(side, h, w)
    cx, cy = (box[0] + box[2]) / 2, (box[1] + box[3]) / 2
    x = int(np.clip(cx - side / 2, 0, w - side))
    y = int(np.clip(cy - side / 2, 0, h - side))
    return _offset(detect(rgb[y:y + side, x:x + side], min_score=min_score), x, y)


class Finder:
    """Faces of successive frames, whole-frame first, small faces at a bounded cost.

    Each frame: :func:`detect` on the whole frame. When that finds nothing: around the
    small face of the previous frame if there was one (:func:`detect_near`, one more
    detection), else a tiled search (:func:`detect_tiles`) at most every ``scan_every``
    seconds. A video without faces costs 1 + 8 / (fps * scan_every) detections per frame.
    """

    def __init__(self, scan_every: float = 1.0):
        self.scan_every = scan_every
        self.last_scan = -np.inf
        self.small = None

    def __call__(self, pic, t: float) -> list[Face]:
        """Faces of ``pic`` (a :class:`Picture`, or an RGB array) at time ``t``, in its pixels."""
        if isinstance(pic, np.ndarray):
            small, full, scale = pic, (lambda: pic), 1.0
        else:
            small, full = pic.small(), pic.rgb
            scale = pic.width / small.shape[1]
        faces = detect(small)
        if scale != 1.0:
            for f in faces:
                f.box = tuple(v * scale for v in f.box)
                f.keypoints = f.keypoints * scale
        if faces:
            self.small = None
            return faces
        if self.small is not None:
            faces = detect_near(full(), self.small)
        if not faces and t - self.last_scan >= self.scan_every - 1e-6:
            self.last_scan = t
            faces = detect_tiles(full())
        self.small = faces[0].box if faces else None
        return faces


def crop(rgb: np.ndarray, face: Face, *, margin: float = CROP_MARGIN, size: int = CROP_SIZE,
         mirror: bool = False, levels: np.ndarray | None = None) -> np.ndarray:
    """The face's square grey crop (uint8, ``size`` x ``size``): its box grown by ``margin`` on
    each side, squared on the longer side, padded with grey where it leaves the frame."""
    from PIL import Image
    x0, y0, x1, y1 = face.box
    side = max(x1 - x0, y1 - y0) * (1 + 2 * margin)
    cx, cy = (x0 + x1) / 2, (y0 + y1) / 2
    a = np.asarray(rgb, dtype=np.uint8)
    img = Image.fromarray(a) if a.ndim == 2 else Image.fromarray(a).convert("L")
    box = (round(cx - side / 2), round(cy - side / 2), round(cx + side / 2), round(cy + side / 2))
    c = img.crop(box).resize((size, size), Image.BILINEAR)        # PIL pads outside the frame with black
    if mirror:
        c = c.transpose(Image.FLIP_LEFT_RIGHT)
    out = np.asarray(c, dtype=np.uint8)
    return out if levels is None else levels[out]


def expression_probs(grey: np.ndarray) -> np.ndarray:
    """The seven probabilities (:data:`EXPRESSIONS`) of one 64 x 64 grey face crop (uint8)."""
    g = np.asarray(grey, dtype=np.float32)
    if g.shape != (CROP_SIZE, CROP_SIZE):
        raise EmoTagError(f"expression_probs needs a {CROP_SIZE}x{CROP_SIZE} grey crop, given {g.shape}")
    (p,) = _classifier()(((g / 255.0 - 0.5) * 2.0)[None, :, :, None])
    p = np.clip(p[0].astype(np.float64), 0, None)
    return p / p.sum() if p.sum() > 0 else np.full(len(EXPRESSIONS), 1 / len(EXPRESSIONS))


def expressions(rgb: np.ndarray, faces: list[Face], *, tta: bool = False,
                margin: float = CROP_MARGIN, levels: np.ndarray | None = None) -> list[Face]:
    """Classify each face of a frame in place (``face.probs``); with ``tta`` also the mirrored
    crop, averaged."""
    for f in faces:
        p = expression_probs(crop(rgb, f, margin=margin, levels=levels))
        if tta:
            p = (p + expression_probs(crop(rgb, f, margin=margin, mirror=True, levels=levels))) / 2
        f.probs = p
    return faces


# ------------------------------------------------------------------ video
#: The file name endings looked at for a picture (an audio-only M4A or WebM is then told by
#: its streams); other files are not opened for faces at all, which keeps ``--faces`` cheap
#: on a large audio library.
VIDEO_EXTENSIONS = (".mp4", ".m4v", ".mov", ".qt", ".3gp", ".webm", ".mkv", ".asf", ".wmv", ".avi")


def has_video(path) -> bool:
    """Whether ``path`` (a name ending in :data:`VIDEO_EXTENSIONS`) holds a video stream PyAV
    can open (False for audio-only files and every other ending)."""
    if Path(path).suffix.lower() not in VIDEO_EXTENSIONS:
        return False
    import av
    try:
        with av.open(str(path)) as c:
            return any(s.type == "video" for s in c.streams)
    except (av.error.FFmpegError, OSError, ValueError):
        return False


def _rotation(frame) -> int:
    r = getattr(frame, "rotation", 0) or 0
    return int(round(r / 90.0)) % 4


class Picture:
    """One decoded video frame, converted only as far as it is needed.

    ``small()`` is an RGB copy whose longer side is the detector's input (what whole-frame
    detection reads: FFmpeg scales it down, area-averaged, far cheaper than converting the
    full frame); ``rgb()`` the full-size RGB (only for the small-face search); ``grey()``
    the full-size luma plane (the expression crops; ``levels`` then maps a crop's limited
    video range to 0..255). The display
    rotation (a phone video's matrix) is applied to each, so faces are upright.
    """

    def __init__(self, frame, t: float):
        self.frame, self.t = frame, t
        self.k = _rotation(frame)
        w, h = frame.width, frame.height
        self.width, self.height = (h, w) if self.k % 2 else (w, h)
        self._cache = {}
        self.levels = None           #: lookup table that maps ``grey()`` to 0..255 (None: it already is)

    def _turn(self, a):
        return np.ascontiguousarray(np.rot90(a, self.k)) if self.k else a

    def small(self, side: int = DETECTOR_SIZE) -> np.ndarray:
        if "small" not in self._cache:
            f = self.frame
            s = side / max(f.width, f.height)
            w, h = max(8, round(f.width * s)), max(8, round(f.height * s))
            self._cache["small"] = self._turn(f.reformat(width=w, height=h, format="rgb24",
                                                         interpolation="AREA").to_ndarray())
        return self._cache["small"]

    def rgb(self) -> np.ndarray:
        if "rgb" not in self._cache:
            self._cache["rgb"] = self._turn(self.frame.to_ndarray(format="rgb24"))
        return self._cache["rgb"]

    def grey(self) -> np.ndarray:
        if "grey" not in self._cache:
            f = self.frame
            name = f.format.name
            if name in ("yuv420p", "yuvj420p", "yuv422p", "yuvj422p", "yuv444p", "yuvj444p", "nv12"):
                plane = f.planes[0]                  # the luma plane itself: no conversion
                y = np.frombuffer(plane, np.uint8).reshape(plane.height, plane.line_size)[:, :plane.width]
                full = name.startswith("yuvj") or getattr(f, "color_range", 1) == 2
                # limited range (16..235): stretched to 0..255 on the small crops (``levels``), not here
                self.levels = None if full else _LIMITED_TO_FULL
            else:
                y = np.asarray(f.to_image().convert("L"))
            self._cache["grey"] = self._turn(y)
        return self._cache["grey"]


_LIMITED_TO_FULL = np.clip(np.round((np.arange(256) - 16.0) * (255.0 / 219.0)), 0, 255).astype(np.uint8)


def iter_frames(path, *, fps: float = DEFAULT_FPS, pictures: bool = False):
    """``(time_s, rgb)`` for about ``fps`` frames per second of the first video stream.

    Decodes once, in order; a frame is kept when its presentation time reaches the next
    multiple of ``1/fps``. Frames no other frame refers to (B-frames, mostly) are only
    decoded when they may be needed, which halves decoding for the usual H.264 file. The
    display rotation is applied, so faces are upright. With ``pictures`` it yields
    :class:`Picture` objects instead of RGB arrays (cheaper: nothing is converted until
    asked). Raises :class:`EmoTagError` naming the file when it holds no video stream or
    cannot be decoded.
    """
    import av
    if not fps > 0:
        raise EmoTagError(f"--face-fps must be positive, got {fps}")
    try:
        container = av.open(str(path))
    except (av.error.FFmpegError, OSError, ValueError) as exc:
        raise EmoTagError(f"{path}: cannot open the video: {exc}") from exc
    with container:
        streams = [s for s in container.streams if s.type == "video"]
        if not streams:
            raise EmoTagError(f"{path}: no video stream")
        stream = streams[0]
        rate = float(stream.average_rate or 0) or 25.0
        step, nxt, n = 1.0 / fps, 0.0, 0
        # skip non-reference frames when the kept rate is well below the frame rate: a
        # frame is then only late by at most one reference-frame interval
        skip = fps * 3 <= rate
        if skip:
            stream.codec_context.skip_frame = "NONREF"
        try:
            for frame in container.decode(stream):
                t = frame.time if frame.time is not None else n / rate
                n += 1
                if t + 1e-6 < nxt:
                    continue
                pic = Picture(frame, float(t))
                yield (pic.t, pic) if pictures else (pic.t, pic.rgb())
                nxt = (np.floor(t / step + 1e-6) + 1) * step
        except av.error.FFmpegError as exc:
            if n == 0:
                raise EmoTagError(f"{path}: cannot decode the video: {exc}") from exc
            warnings.warn(f"{path}: video decoding stopped at {n} frames: {exc}", stacklevel=2)
    if n == 0:
        raise EmoTagError(f"{path}: the video has no decodable frame")


def analyse_video(path, *, fps: float = DEFAULT_FPS, tta: bool = TTA, thumbnails: bool = False,
                  margin: float = CROP_MARGIN) -> tuple[pd.DataFrame, dict]:
    """Every sampled frame's faces, tracked.

    Returns
    -------
    faces : DataFrame
        One row per face per sampled frame: ``time``, ``track``, ``x0, y0, x1, y1`` (pixels),
        ``score``, ``height`` (share of the frame's height), the seven probabilities
        ``p_<class>``, ``cut`` (how much the frame's colours changed since the previous
        sampled frame, 0..1: :func:`scenes` reads it) and ``main`` (True on the main face's
        track). A frame without faces has one row with ``track`` -1 and no box, so every
        sampled time is present.
    summary : dict
        ``frames`` (sampled), ``width``, ``height``, ``duration`` (last sampled time plus a
        step), ``main_track`` (-1 when no face was seen) and, with ``thumbnails``,
        ``thumbnails``: {track: 64 x 64 grey crop of its largest face} (only then is any
        image kept).
    """
    import array
    cols = ["time", "track", "x0", "y0", "x1", "y1", "score", "height"] + [f"p_{e}" for e in EXPRESSIONS] + ["cut"]
    nan = float("nan")
    data, tracks, thumbs = array.array("d"), [], {}      # one flat row of floats per face (or empty frame)
    size = (0, 0)
    n = 0
    t = 0.0
    finder = Finder()
    hist_prev = None
    for t, pic in iter_frames(path, fps=fps, pictures=True):
        n += 1
        size = pic.width, pic.height
        found = finder(pic, t)
        hist = _histogram(pic.small())
        cut = 0.0 if hist_prev is None else 0.5 * float(np.abs(hist - hist_prev).sum())
        hist_prev = hist
        grey = pic.grey() if found else None            # the crops are grey: the full RGB frame is rarely needed
        faces = expressions(grey, found, tta=tta, margin=margin, levels=pic.levels)
        ids = track(tracks, faces, t)
        if not faces:
            data.extend((t, -1.0) + (nan,) * (len(cols) - 3) + (cut,))
        for f, k in zip(faces, ids):
            data.extend((t, float(k), *f.box, f.score, (f.box[3] - f.box[1]) / pic.height, *map(float, f.probs), cut))
            if thumbnails and (k not in thumbs or f.area > thumbs[k][0]):
                thumbs[k] = (f.area, crop(grey, f, margin=margin, levels=pic.levels))
    df = pd.DataFrame(np.frombuffer(data, dtype=np.float64).reshape(-1, len(cols)), columns=cols)
    df["track"] = df["track"].astype(int)
    main = main_track(df)
    df["main"] = (df["track"] == main) & (main >= 0)
    summary = {"frames": n, "width": size[0], "height": size[1], "duration": t + 1.0 / fps, "main_track": main,
               "fps": fps}
    if thumbnails:
        summary["thumbnails"] = {k: v[1] for k, v in thumbs.items()}
    return df, summary


def _histogram(rgb: np.ndarray) -> np.ndarray:
    """A small frame's colour histogram (8 levels per channel, 24 bins), summing to 1."""
    q = (np.asarray(rgb, dtype=np.uint8) >> 5).reshape(-1, 3)
    h = np.concatenate([np.bincount(q[:, c], minlength=8) for c in range(3)]).astype(np.float64)
    return h / max(1.0, h.sum())


#: A shot boundary: the colour histogram changes by at least this share between two
#: sampled frames (half the L1 distance, 0..1) ...
CUT_THRESHOLD = 0.35
#: ... and the previous boundary is at least this many seconds earlier.
MIN_SHOT = 1.0


def scenes(faces: pd.DataFrame, duration: float, *, threshold: float = CUT_THRESHOLD,
           min_shot: float = MIN_SHOT) -> list[tuple[float, float]]:
    """Shots ``[(start, end), ...]`` from the ``cut`` scores of :func:`analyse_video`.

    A hard cut changes most of a frame's colours at once; a pan or a moving face changes
    few. A boundary is placed at a sampled frame whose histogram distance from the previous
    one reaches ``threshold``, at least ``min_shot`` seconds after the previous boundary.
    """
    per = faces.groupby("time")["cut"].max().sort_index()
    bounds = [0.0]
    for t, c in per.items():
        if t > 0 and c >= threshold and t - bounds[-1] >= min_shot:
            bounds.append(float(t))
    bounds.append(float(duration))
    return [(a, b) for a, b in zip(bounds[:-1], bounds[1:]) if b > a]


# ------------------------------------------------------------------ tracking
def track(tracks: list, faces: list[Face], t: float) -> list[int]:
    """Track ids for ``faces`` (one frame), updating ``tracks`` in place.

    ``tracks`` holds ``[last_box, last_time]`` per track id (its index). A face continues
    the unmatched track whose last box overlaps it most (IoU >= :data:`TRACK_IOU`, or its
    centre inside that box when the face moved fast); otherwise it starts a new track.
    Greedy, largest face first.
    """
    ids, taken = [], set()
    for f in faces:
        best, best_v = -1, 0.0
        cx, cy = (f.box[0] + f.box[2]) / 2, (f.box[1] + f.box[3]) / 2
        for k, (box, _) in enumerate(tracks):
            if k in taken:
                continue
            v = _iou(f.box, box)
            inside = box[0] <= cx <= box[2] and box[1] <= cy <= box[3]
            if (v >= TRACK_IOU or inside) and v + inside > best_v:
                best, best_v = k, v + inside
        if best < 0:
            tracks.append([f.box, t])
            best = len(tracks) - 1
        else:
            tracks[best] = [f.box, t]
        taken.add(best)
        ids.append(best)
    return ids


def main_track(faces: pd.DataFrame) -> int:
    """The main face: the track with the largest summed box area over the video (-1: none)."""
    f = faces[faces["track"] >= 0]
    if f.empty:
        return -1
    area = (f["x1"] - f["x0"]) * (f["y1"] - f["y0"])
    return int(area.groupby(f["track"]).sum().idxmax())


# ------------------------------------------------------------------ windows and fusion
@functools.lru_cache(maxsize=4)
def _label_coords(lexicon_path=None) -> np.ndarray:
    from va_data_loader import load_lexicon, word_coords
    return word_coords(load_lexicon(lexicon_path), list(LABELS), source="face expression classes")


def face_va(probs: np.ndarray, lexicon_path=None) -> np.ndarray:
    """Valence and arousal of expression probabilities ``(n, 7)``: the probability-weighted
    lexicon coordinates of the class words (:data:`EXPRESSION_WORDS`)."""
    p = np.atleast_2d(np.asarray(probs, dtype=np.float64))
    return p @ _label_coords(lexicon_path)


WINDOW_COLUMNS = ["start", "end", "face_label", "face_confidence", "face_valence", "face_arousal", "faces_seen",
                  "face_frames"] + [f"face_p_{w}" for w in LABELS]


def windows(faces: pd.DataFrame, grid, *, lexicon_path=None) -> pd.DataFrame:
    """The main face per window of ``grid`` (``[(start, end), ...]`` in seconds).

    ``face_label`` is the class of the highest mean probability over the main face's frames
    in the window ("no_face" when the main face is not in it), ``face_confidence`` that
    mean probability, ``face_valence``/``face_arousal`` the lexicon coordinates weighted by
    the mean probabilities, ``faces_seen`` the most faces in one sampled frame of the window
    (any track), ``face_frames`` how many sampled frames show the main face.
    """
    out = []
    pcols = [f"p_{e}" for e in EXPRESSIONS]
    for start, end in grid:
        w = faces[(faces["time"] >= start - 1e-9) & (faces["time"] < end - 1e-9)]
        seen = int(w[w["track"] >= 0].groupby("time").size().max()) if (w["track"] >= 0).any() else 0
        m = w[w["main"]]
        if m.empty:
            out.append({"start": start, "end": end, "face_label": "no_face", "face_confidence": np.nan,
                        "face_valence": np.nan, "face_arousal": np.nan, "faces_seen": seen, "face_frames": 0,
                        **{f"face_p_{x}": np.nan for x in LABELS}})
            continue
        p = m[pcols].to_numpy(float).mean(axis=0)
        v, a = face_va(p, lexicon_path)[0]
        k = int(np.argmax(p))
        out.append({"start": start, "end": end, "face_label": LABELS[k], "face_confidence": float(p[k]),
                    "face_valence": float(v), "face_arousal": float(a), "faces_seen": seen,
                    "face_frames": int(len(m)), **{f"face_p_{x}": float(q) for x, q in zip(LABELS, p)}})
    return pd.DataFrame(out, columns=WINDOW_COLUMNS)


def grid_for(duration: float, window: float, hop: float) -> list[tuple[float, float]]:
    """Windows of ``window`` seconds every ``hop`` seconds over ``duration`` (at least one; the
    last one ends at ``duration``), as :func:`extractor.extract_segments` cuts audio."""
    if duration <= window:
        return [(0.0, float(duration))]
    starts = np.arange(0.0, duration - window + 1e-9, hop)
    return [(float(s), float(s + window)) for s in starts]


def fuse(face_label, face_confidence, voice_label, voice_confidence) -> tuple[str, str, float]:
    """One window's answer from its face and its voice: ``(fused_label, fused_source, confidence)``.

    * face only (no speech in the window, or no audio): the face's label, source ``face``;
    * voice only (no face, or no picture): the voice's label, source ``voice``;
    * both and they agree: that label, source ``face+voice``, confidence
      ``1 - (1 - c_face)(1 - c_voice)`` (two independent witnesses);
    * both and they disagree: the more confident one, source ``face>voice`` or
      ``voice>face`` (both labels stay in the row: the disagreement is shown, not hidden);
    * neither: ``""``, source ``none``.
    """
    has_f = isinstance(face_label, str) and face_label not in ("", "no_face") and np.isfinite(face_confidence)
    has_v = isinstance(voice_label, str) and voice_label != "" and np.isfinite(voice_confidence)
    if has_f and has_v:
        if face_label == voice_label:
            return face_label, "face+voice", float(1 - (1 - face_confidence) * (1 - voice_confidence))
        if face_confidence >= voice_confidence:
            return face_label, "face>voice", float(face_confidence)
        return voice_label, "voice>face", float(voice_confidence)
    if has_f:
        return face_label, "face", float(face_confidence)
    if has_v:
        return voice_label, "voice", float(voice_confidence)
    return "", "none", float("nan")


# ------------------------------------------------------------------ one file's face lane
FACE_COLUMNS = (["sha256", "path", "start", "end", "face_label", "face_confidence", "face_valence", "face_arousal",
                 "faces_seen", "face_frames", "voice_label", "voice_confidence", "fused_label", "fused_source",
                 "fused_confidence"] + [f"face_p_{w}" for w in LABELS])


def face_lane(path, *, segments: pd.DataFrame | None = None, window: float = 3.0, hop: float = 1.0,
              fps: float = DEFAULT_FPS, tta: bool = TTA, thumbnails: bool = False, sha256: str = "",
              lexicon_path=None) -> tuple[pd.DataFrame, dict, pd.DataFrame]:
    """``(rows, summary, faces)``: :func:`face_rows`'s table, :func:`analyse_video`'s summary
    (with ``thumbnails`` in memory when asked) and its per-frame faces."""
    faces, summary = analyse_video(path, fps=fps, tta=tta, thumbnails=thumbnails)
    if segments is not None and len(segments):
        seg = segments.reset_index(drop=True)
        grid = list(zip(seg["start"].astype(float), seg["end"].astype(float)))
        speech = seg["domain"].astype(str).eq("speech").to_numpy()
        voice = np.where(speech, seg["emotion_label"].fillna("").astype(str), "")
        vconf = np.where(speech, seg["emotion_confidence"].astype(float), np.nan)
    else:
        grid = grid_for(summary["duration"], window, hop)
        voice, vconf = np.full(len(grid), ""), np.full(len(grid), np.nan)
    w = windows(faces, grid, lexicon_path=lexicon_path)
    fused = [fuse(fl, fc, vl, vc) for fl, fc, vl, vc in zip(w["face_label"], w["face_confidence"], voice, vconf)]
    w.insert(0, "path", str(path))
    w.insert(0, "sha256", sha256)
    w["voice_label"], w["voice_confidence"] = voice, vconf
    w["fused_label"] = [f[0] for f in fused]
    w["fused_source"] = [f[1] for f in fused]
    w["fused_confidence"] = [f[2] for f in fused]
    return w.reindex(columns=FACE_COLUMNS), summary, faces


def face_rows(path, *, segments: pd.DataFrame | None = None, window: float = 3.0, hop: float = 1.0,
              fps: float = DEFAULT_FPS, tta: bool = TTA, thumbnails_dir=None, sha256: str = "",
              lexicon_path=None) -> pd.DataFrame:
    """The face, voice and fused answer of every window of one video (:data:`FACE_COLUMNS`).

    ``segments`` are the file's rows of ``new_audio_segments.csv`` (``start``, ``end``,
    ``emotion_label``, ``emotion_confidence``, ``domain``): the windows come from them, so
    the face lane and the voice lane share one grid, and a window's voice is its emotion
    label where its domain is speech (``voice_label`` is empty elsewhere: music, effects,
    silence). Without them (a video without sound) the grid is ``window``/``hop`` over the
    video. With ``thumbnails_dir``, one 64 x 64 grey PNG per face track is written there
    (nothing is kept otherwise).
    """
    rows, summary, _ = face_lane(path, segments=segments, window=window, hop=hop, fps=fps, tta=tta,
                                 thumbnails=thumbnails_dir is not None, sha256=sha256, lexicon_path=lexicon_path)
    if thumbnails_dir is not None:
        from PIL import Image
        d = Path(thumbnails_dir)
        d.mkdir(parents=True, exist_ok=True)
        tag = sha256[:8] or "x"
        for k, img in summary.get("thumbnails", {}).items():
            Image.fromarray(img).save(d / f"{Path(path).stem}-{tag}-face{k}.png")
    return rows


def _majority(labels) -> str:
    labels = [x for x in labels if isinstance(x, str) and x not in ("", "no_face")]
    return max(set(labels), key=labels.count) if labels else ""


def scene_summaries(faces: pd.DataFrame, shots, segments: pd.DataFrame | None = None, *,
                    lexicon_path=None) -> list[dict]:
    """Per shot: the face's and the voice's emotion.

    ``faces`` are :func:`analyse_video`'s per-frame rows: a shot's face is its main face
    within the shot (the track with the largest summed area in it), its label the class of
    the highest mean probability, its valence/arousal the lexicon coordinates weighted by
    those means. The voice is the speech windows of ``segments`` whose centre lies in the
    shot: the most frequent label and the mean predicted valence/arousal.

    Each item: ``start``, ``end``, ``face`` (None without a face; else ``label``,
    ``confidence``, ``valence``, ``arousal``, ``frames``), ``voice`` (None without speech;
    else ``label``, ``valence``, ``arousal``, ``windows``) and ``sound`` (the mean predicted
    valence/arousal of all the shot's windows, None without sound).
    """
    out = []
    pcols = [f"p_{e}" for e in EXPRESSIONS]
    seg = segments.reset_index(drop=True) if segments is not None and len(segments) else None
    smid = None if seg is None else ((seg["start"] + seg["end"]) / 2).to_numpy(float)
    for i, (a, b) in enumerate(shots):
        last = i == len(shots) - 1
        item = {"start": a, "end": b, "face": None, "voice": None, "sound": None}
        f = faces[(faces["time"] >= a - 1e-9) & ((faces["time"] < b - 1e-9) | last) & (faces["track"] >= 0)]
        if len(f):
            area = ((f["x1"] - f["x0"]) * (f["y1"] - f["y0"])).groupby(f["track"]).sum()
            m = f[f["track"] == area.idxmax()]
            p = m[pcols].to_numpy(float).mean(axis=0)
            v, ar = face_va(p, lexicon_path)[0]
            k = int(np.argmax(p))
            item["face"] = {"label": LABELS[k], "confidence": float(p[k]), "valence": float(v), "arousal": float(ar),
                            "frames": int(len(m))}
        if seg is not None:
            sm = (smid >= a) & ((smid < b) | last)
            s = seg[sm]
            if len(s):
                item["sound"] = {"valence": float(s["valence"].mean()), "arousal": float(s["arousal"].mean()),
                                 "windows": int(len(s))}
                sp = s[s["domain"].astype(str) == "speech"]
                if len(sp):
                    item["voice"] = {"label": _majority(sp["emotion_label"]), "valence": float(sp["valence"].mean()),
                                     "arousal": float(sp["arousal"].mean()), "windows": int(len(sp))}
        out.append(item)
    return out
