"""Decoding: libsndfile first, FFmpeg (through PyAV) for every other container and codec.

Reads audio files and the audio track of video files; writes nothing except through
:func:`write_encoded`, which encodes synthetic signals for tests, the fuzz corpus and demos.

* :func:`probe` opens a file and returns an :class:`AudioInfo` (native rate, channels,
  length, which decoder reads it). libsndfile reads WAV/BWF/RF64, AIFF, FLAC, Ogg
  Vorbis/Opus, MP3, AU, CAF and W64; when it cannot, and the file's first bytes name a
  container FFmpeg knows (MP4/M4A/MOV, WebM/Matroska, ASF/WMA, ADTS AAC, AC-3, AMR, ...),
  FFmpeg decodes it. Random bytes behind an audio name are never handed to FFmpeg, whose
  MP3 parser would find "frames" in noise.
* :func:`blocks` yields the native-rate samples block by block, so memory stays bounded
  whatever the file's length; ``extractor.iter_audio`` downmixes and resamples them.
* :func:`sniff` (from ``va_utils``, which needs it to search folders) names a container
  from a file's first bytes: files in a folder whose extension is missing or not an audio
  one are kept when it knows them.

Example::

    >>> from va_decode import probe
    >>> probe("take.m4a")
    AudioInfo(frames=441000, samplerate=44100, channels=2, backend='ffmpeg', codec='aac', ...)
"""
from __future__ import annotations

import dataclasses
import itertools
import os
import re
from pathlib import Path

import numpy as np

from va_utils import AUDIO_EXTENSIONS, BadAudioError, sniff

__all__ = ["AUDIO_EXTENSIONS", "AudioInfo", "probe", "blocks", "sniff", "write_encoded"]

_BLOCK = 1 << 16


@dataclasses.dataclass
class AudioInfo:
    """What :func:`probe` found. ``frames`` is exact for libsndfile and an estimate from the
    container for FFmpeg until :func:`blocks` has run to the end, which sets it exactly."""

    frames: int
    samplerate: int
    channels: int
    backend: str              # "sndfile" or "ffmpeg"
    codec: str = ""
    container: str = ""
    exact: bool = True

    @property
    def duration(self) -> float:
        return self.frames / self.samplerate


# ----------------------------------------------------------------------------- probing
def _sndfile_probe(path):
    import soundfile as sf
    info = sf.info(str(path))
    return AudioInfo(frames=int(info.frames), samplerate=int(info.samplerate), channels=int(info.channels),
                     backend="sndfile", codec=str(info.subtype), container=str(info.format))


def _clean(msg: str) -> str:
    msg = re.sub(r"^Error opening .*?': ", "", str(msg), flags=re.S)
    msg = re.sub(r"^\[Errno -?\d+\] ", "", msg)
    msg = re.sub(r": '.*'$", "", msg.split("\n")[0])      # the name is ours to show
    return msg.strip()


def _ffmpeg_probe(path, kind):
    import av
    try:
        with av.open(str(path), metadata_errors="replace") as c:
            audio = list(c.streams.audio)
            if not audio:
                n_video = len(c.streams.video)
                if n_video:
                    raise BadAudioError(f"video file has no audio track ({n_video} video stream{'s' * (n_video > 1)}, "
                                        "no audio stream)")
                raise BadAudioError(f"{kind} container holds no audio stream")
            st = audio[0]
            cc = st.codec_context
            sr = int(cc.sample_rate or st.rate or 0)
            ch = int(cc.channels or 0) if hasattr(cc, "channels") else int(cc.layout.nb_channels)
            if st.duration is not None and st.time_base is not None:
                seconds = float(st.duration * st.time_base)
            elif c.duration is not None:
                seconds = c.duration / 1e6
            else:
                seconds = 0.0
            name = c.format.name.split(",")[0]
            return AudioInfo(frames=max(0, int(round(seconds * sr))), samplerate=sr, channels=ch, backend="ffmpeg",
                             codec=cc.name, container=name, exact=False)
    except BadAudioError:
        raise
    except (av.error.FFmpegError, ValueError, OSError, IndexError) as exc:
        raise BadAudioError(f"cannot decode audio: {kind} container, but FFmpeg cannot read it ({_clean(exc)})") from None


def probe(path) -> AudioInfo:
    """Open ``path`` and describe its (first) audio stream.

    Raises
    ------
    BadAudioError
        With a one-line reason: empty file, unknown format, a video with no audio track,
        a damaged container, no samples, an invalid header.
    """
    path = str(path)
    try:
        size = os.path.getsize(path)
    except OSError as exc:
        raise BadAudioError(f"cannot read file: {exc.strerror or exc}") from None
    if size == 0:
        raise BadAudioError("cannot decode audio: file is empty (0 bytes)")
    try:
        info = _sndfile_probe(path)
    except Exception as exc:  # soundfile raises LibsndfileError, RuntimeError, TypeError...
        kind = sniff(path)
        if kind is None:
            msg = _clean(exc)
            if "does not exist or is not a regular file" in msg or "Format not recognised" in msg:
                msg = "format not recognised (neither libsndfile nor FFmpeg knows these bytes as audio)"
            raise BadAudioError(f"cannot decode audio: {msg}") from None
        info = _ffmpeg_probe(path, kind)
    if info.samplerate <= 0 or info.channels <= 0:
        raise BadAudioError(f"invalid header (sample rate {info.samplerate}, {info.channels} channels)")
    if info.exact and info.frames <= 0:
        raise BadAudioError("file holds no audio samples")
    return info


# ----------------------------------------------------------------------------- decoding
def _sndfile_blocks(path, blocksize):
    import soundfile as sf
    try:
        yield from sf.blocks(str(path), blocksize=blocksize, always_2d=True, dtype="float32")
    except sf.LibsndfileError as exc:
        raise BadAudioError(f"decoding failed part-way: {exc}") from None


def _ffmpeg_blocks(path, info: AudioInfo):
    import av
    n = 0
    try:
        with av.open(str(path), metadata_errors="replace") as c:
            st = c.streams.audio[0]
            st.thread_type = "AUTO"
            # planar float at the stream's own rate and channel count: downmix and resampling stay ours
            rs = av.AudioResampler(format="fltp", layout=st.codec_context.layout, rate=info.samplerate)
            for frame in itertools.chain(c.decode(st), [None]):          # None: flush the resampler
                for out in rs.resample(frame):
                    a = out.to_ndarray()
                    n += a.shape[1]
                    yield a.T
    except (av.error.FFmpegError, ValueError) as exc:
        if n == 0:
            raise BadAudioError(f"cannot decode audio: FFmpeg cannot decode the {info.codec} stream ({_clean(exc)})") from None
        raise BadAudioError(f"decoding failed part-way after {n / info.samplerate:.2f} s: {_clean(exc)}") from None
    info.frames, info.exact = n, True


def blocks(path, info: AudioInfo | None = None, *, blocksize: int = _BLOCK):
    """Yield float32 arrays of shape (n, channels) at the file's own rate, in order.

    For FFmpeg files, ``info.frames`` is set to the exact count once the last block has
    been yielded.
    """
    info = info or probe(path)
    if info.backend == "sndfile":
        yield from _sndfile_blocks(path, blocksize)
    else:
        yield from _ffmpeg_blocks(path, info)


# ----------------------------------------------------------------------------- encoding
def write_encoded(path, y, sr: int, *, codec: str, fmt: str | None = None, bit_rate: int | None = None,
                  video: bool = False, audio: bool = True, tags: dict | None = None) -> Path:
    """Encode ``y`` (shape (n,) or (n, channels); float in -1..1, or int16) with FFmpeg.

    Parameters
    ----------
    codec : str
        FFmpeg encoder: ``aac``, ``alac``, ``libopus``, ``wmav2``, ``libmp3lame``, ``flac``, ...
    fmt : str or None
        Container (``ipod``, ``mp4``, ``mov``, ``ogg``, ``webm``, ``asf``, ``mp3``, ...); None
        picks it from the extension.
    bit_rate : int or None
        Bits per second of a lossy encoder (default 64 kbit/s per channel, at most two).
    video : bool
        Add a small silent video stream (64 x 48 MPEG-4 Part 2 at 10 frames/s).
    audio : bool
        False writes a video with no audio track (needs ``video=True``).
    tags : dict or None
        Container metadata (title, artist, comment, ...).
    """
    import av
    y = np.asarray(y)
    frame_format = "s16p" if y.dtype == np.int16 else "fltp"     # int16 in: the encoder sees exact samples
    y = y if y.dtype == np.int16 else y.astype(np.float32)
    y = y[:, None] if y.ndim == 1 else y
    n, ch = y.shape
    path = Path(path)
    with av.open(str(path), "w", format=fmt) as out:
        for k, v in (tags or {}).items():
            out.metadata[k] = v
        vs = ast = None
        if video:
            vs = out.add_stream("mpeg4", rate=10)
            vs.width, vs.height, vs.pix_fmt = 64, 48, "yuv420p"
        if audio:
            ast = out.add_stream(codec, rate=sr)
            ast.layout = "mono" if ch == 1 else "stereo" if ch == 2 else f"{ch}c"
            lossless = codec in ("alac", "flac") or codec.startswith("pcm_")
            if bit_rate or not lossless:
                ast.bit_rate = bit_rate or 64000 * min(ch, 2)   # some encoders (wmav2) have no default
            formats = ast.codec_context.codec.audio_formats
            rs = av.AudioResampler(format=formats[0].name if formats else "fltp", layout=ast.layout, rate=sr)
            step = ast.codec_context.frame_size or 1024
            for i in range(0, n, step):
                frame = av.AudioFrame.from_ndarray(np.ascontiguousarray(y[i:i + step].T), format=frame_format,
                                                   layout=ast.layout.name)
                frame.sample_rate, frame.pts = sr, i
                for f in rs.resample(frame):
                    out.mux(ast.encode(f))
            for f in rs.resample(None):
                out.mux(ast.encode(f))
            out.mux(ast.encode(None))
        if vs is not None:
            for k in range(max(1, int(np.ceil(n / sr * 10)))):
                img = np.full((48, 64, 3), (k * 8) % 256, np.uint8)
                vf = av.VideoFrame.from_ndarray(img, format="rgb24")
                vf.pts = k
                out.mux(vs.encode(vf))
            out.mux(vs.encode(None))
    return path
