"""Synthesise test and demo videos from one public-domain face (no downloads).

Reads ``tests/data/astronaut.jpg`` (the portrait of astronaut Eileen Collins that
scikit-image ships as ``skimage.data.astronaut()``, a NASA photograph in the public domain;
she smiles). Writes H.264 MP4 files (PyAV's bundled FFmpeg, libx264) with an optional AAC
soundtrack (a tone or noise). Each scene is a function of time, so a test can say
exactly where the face is:

  smile         the face, still, large
  moving        the face drifts across the frame and shrinks to a tenth of the height
  comes_goes    the face for the first third, nothing for the middle third, the face again
  two_faces     the face twice, one large (left) and one small (right)
  no_face       a grey gradient with moving shapes, no face
  small_face    the face at 5% of the frame height in a 720p frame
  two_shots     a cut half-way: the face on a light background, then a dark room without it

Examples:
  python synth_video.py /tmp/videos                 # every scene, 4 s, 640 x 360, with audio
  python synth_video.py /tmp/v --scene smile --size 1280 720 --seconds 60 --no-audio
"""
from __future__ import annotations

import functools
from fractions import Fraction
from pathlib import Path

import numpy as np

from va_utils import PROJECT_ROOT

FACE_IMAGE = PROJECT_ROOT / "tests" / "data" / "astronaut.jpg"
FACE_BOX = (173, 68, 280, 174)      #: where BlazeFace finds the face in the 512 x 512 portrait (x0, y0, x1, y1)
SCENES = ("smile", "moving", "comes_goes", "two_faces", "no_face", "small_face", "two_shots")


@functools.lru_cache(maxsize=1)
def _portrait() -> np.ndarray:
    from PIL import Image
    return np.asarray(Image.open(FACE_IMAGE).convert("RGB"))


def _background(w, h, t):
    x = np.linspace(0, 1, w)[None, :, None]
    y = np.linspace(0, 1, h)[:, None, None]
    base = 60 + 60 * x + 40 * y + 10 * np.sin(2 * np.pi * (x + 0.1 * t))
    img = np.broadcast_to(base, (h, w, 3)).astype(np.uint8).copy()
    cx, cy = int(w * (0.5 + 0.3 * np.sin(t))), int(h * 0.7)          # a moving box: something changes
    img[max(0, cy - h // 10):cy + h // 10, max(0, cx - w // 12):cx + w // 12] = (200, 120, 40)
    return img


def _paste(img, face_height, cx, cy):
    """The portrait scaled so that its face is ``face_height`` pixels high, centred (its face) at (cx, cy)."""
    from PIL import Image
    por = _portrait()
    x0, y0, x1, y1 = FACE_BOX
    s = face_height / (y1 - y0)
    size = max(1, round(por.shape[1] * s)), max(1, round(por.shape[0] * s))
    small = np.asarray(Image.fromarray(por).resize(size, Image.BILINEAR))
    fx, fy = (x0 + x1) / 2 * s, (y0 + y1) / 2 * s
    ox, oy = int(round(cx - fx)), int(round(cy - fy))
    h, w = img.shape[:2]
    sx0, sy0 = max(0, -ox), max(0, -oy)
    dx0, dy0 = max(0, ox), max(0, oy)
    dx1, dy1 = min(w, ox + small.shape[1]), min(h, oy + small.shape[0])
    if dx1 > dx0 and dy1 > dy0:
        img[dy0:dy1, dx0:dx1] = small[sy0:sy0 + dy1 - dy0, sx0:sx0 + dx1 - dx0]
    return img


def _soundtrack(kind: str, seconds: float, sr: int) -> np.ndarray:
    t = np.arange(int(round(seconds * sr))) / sr
    if kind == "sine":
        return 0.3 * np.sin(2 * np.pi * 440 * t)
    if kind == "noise":
        x = np.random.default_rng(0).standard_normal(t.size)
        return 0.1 * np.convolve(x, np.ones(8) / 8, mode="same")
    raise ValueError(f"unknown soundtrack {kind!r}; expected sine or noise")


def frame(scene: str, t: float, seconds: float, w: int, h: int) -> np.ndarray:
    """The RGB frame (uint8, h x w x 3) of ``scene`` at time ``t``."""
    img = _background(w, h, t)
    u = t / max(seconds, 1e-9)
    if scene == "smile":
        return _paste(img, 0.45 * h, w / 2, h / 2)
    if scene == "moving":
        return _paste(img, h * (0.45 - 0.35 * u), w * (0.3 + 0.4 * u), h * (0.45 + 0.1 * u))
    if scene == "comes_goes":
        return img if 1 / 3 <= u < 2 / 3 else _paste(img, 0.45 * h, w / 2, h / 2)
    if scene == "two_faces":
        img = _paste(img, 0.45 * h, w * 0.28, h / 2)
        return _paste(img, 0.22 * h, w * 0.78, h / 2)
    if scene == "no_face":
        return img
    if scene == "small_face":
        return _paste(img, 0.05 * h, w * 0.35, h * 0.4)
    if scene == "two_shots":
        if u < 0.5:
            return _paste(img, 0.45 * h, w / 2, h / 2)
        dark = (img.astype(np.int16) // 4 + np.array([0, 10, 40], np.int16)).clip(0, 255).astype(np.uint8)
        return dark
    raise ValueError(f"unknown scene {scene!r}; expected one of {SCENES}")


def write_video(path, scene: str = "smile", *, seconds: float = 4.0, size=(640, 360), fps: int = 25,
                audio: str | None = "sine", rotate: int = 0, crf: int = 28) -> Path:
    """Write ``scene`` to ``path`` (MP4: H.264, and AAC audio unless ``audio`` is None).

    ``audio`` is ``"sine"`` (a 440 Hz tone), ``"noise"`` (soft pink-ish noise) or None. ``rotate`` (0, 90, 180, 270) stores
    the frames turned by that many degrees clockwise, with a display matrix that tells a
    player to turn them back, as a phone does.
    """
    import av
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    w, h = size
    sw, sh = (h, w) if rotate in (90, 270) else (w, h)
    with av.open(str(path), "w") as out:
        vs = out.add_stream("libx264", rate=fps)
        vs.width, vs.height, vs.pix_fmt = sw, sh, "yuv420p"
        vs.options = {"crf": str(crf), "preset": "veryfast"}
        if rotate:
            vs.set_display_rotation(rotate)
        a_s = None
        if audio:
            sr = 44100
            a_s = out.add_stream("aac", rate=sr)
            a_s.layout = "mono"
            y = _soundtrack(audio, seconds, sr)
        n = int(round(seconds * fps))
        for i in range(n):
            img = frame(scene, i / fps, seconds, w, h)
            if rotate:
                img = np.ascontiguousarray(np.rot90(img, -rotate // 90))
            vf = av.VideoFrame.from_ndarray(img, format="rgb24")
            vf.pts, vf.time_base = i, Fraction(1, fps)
            for p in vs.encode(vf):
                out.mux(p)
        for p in vs.encode():
            out.mux(p)
        if a_s is not None:
            step = 1024
            for k in range(0, y.size, step):
                chunk = y[k:k + step].astype(np.float32)[None, :]
                af = av.AudioFrame.from_ndarray(chunk, format="flt", layout="mono")
                af.sample_rate, af.pts, af.time_base = sr, k, Fraction(1, sr)
                for p in a_s.encode(af):
                    out.mux(p)
            for p in a_s.encode():
                out.mux(p)
    return path


def main(argv=None):
    from va_cli import parser
    ap = parser(__doc__)
    ap.add_argument("out_dir", help="folder for the videos")
    ap.add_argument("--scene", choices=SCENES, action="append", help="scene(s) to write (default: all)")
    ap.add_argument("--seconds", type=float, default=4.0, help="length of each video in seconds")
    ap.add_argument("--size", type=int, nargs=2, default=(640, 360), metavar=("W", "H"), help="frame size in pixels")
    ap.add_argument("--fps", type=int, default=25, help="frames per second")
    ap.add_argument("--no-audio", action="store_true", help="no soundtrack (default: a sine tone in AAC)")
    args = ap.parse_args(argv)
    for scene in args.scene or SCENES:
        p = write_video(Path(args.out_dir) / f"{scene}.mp4", scene, seconds=args.seconds, size=tuple(args.size),
                        fps=args.fps, audio=None if args.no_audio else "sine")
        print(p)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
