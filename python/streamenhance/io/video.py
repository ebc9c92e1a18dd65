"""Video decode/encode with PyAV: frames are BGR uint8 arrays; audio is copied through untouched."""

from __future__ import annotations

import io
import logging
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass
from fractions import Fraction
from pathlib import Path

import av
import av.error
import numpy as np

from streamenhance import native
from streamenhance.errors import MediaError

log = logging.getLogger(__name__)

VIDEO_SUFFIXES = (".mp4", ".mkv", ".mov", ".webm", ".avi", ".ts", ".flv", ".m4v")
DEFAULT_CRF = 18
DEFAULT_PRESET = "veryfast"

# PyAV's codec-context colour tags (FFmpeg AVColorSpace / AVColorRange values).
_BT709 = 1
_FULL_RANGE = 2


def is_video_path(path: Path) -> bool:
    return path.suffix.lower() in VIDEO_SUFFIXES


@dataclass(frozen=True)
class VideoInfo:
    width: int
    height: int
    fps: Fraction
    frames: int  # 0 when the container does not say
    has_audio: bool
    codec: str
    bitrate_kbps: float  # 0 when unknown


def _open(source: Path | bytes) -> av.container.InputContainer:
    try:
        return av.open(io.BytesIO(source) if isinstance(source, bytes) else str(source), "r")
    except FileNotFoundError:
        raise MediaError(f"video not found: {source}") from None
    except (av.error.FFmpegError, OSError, ValueError) as exc:
        raise MediaError(f"cannot open video {_name(source)}: {exc}") from exc


def _name(source: Path | bytes) -> str:
    return "<memory>" if isinstance(source, bytes) else str(source)


def _video_stream(container: av.container.InputContainer, source: Path | bytes) -> av.VideoStream:
    if not container.streams.video:
        raise MediaError(f"{_name(source)} has no video stream")
    return container.streams.video[0]


def probe(source: Path | bytes) -> VideoInfo:
    """Size, frame rate, frame count and audio presence of a video."""
    with _open(source) as container:
        stream = _video_stream(container, source)
        ctx = stream.codec_context
        return VideoInfo(
            width=ctx.width,
            height=ctx.height,
            fps=Fraction(stream.average_rate or stream.guessed_rate or 30),
            frames=int(stream.frames or 0),
            has_audio=bool(container.streams.audio),
            codec=ctx.name,
            bitrate_kbps=(stream.bit_rate or ctx.bit_rate or 0) / 1000.0,
        )


def frame_to_bgr(frame: av.VideoFrame) -> np.ndarray:
    """Decoded frame -> BGR uint8 (H, W, 3).

    yuv420p frames go through the native I420 kernel with the stream's own matrix and range (BT.601
    when untagged, as FFmpeg assumes); other formats through FFmpeg's converter.
    """
    if frame.format.name != "yuv420p":
        return frame.to_ndarray(format="bgr24")
    planes = [_plane_view(plane) for plane in frame.planes]
    matrix = "bt709" if frame.colorspace == _BT709 else "bt601"
    return native.i420_to_bgr(*planes, matrix=matrix, full_range=frame.color_range == _FULL_RANGE)


def _plane_view(plane: av.video.plane.VideoPlane) -> np.ndarray:
    rows = np.frombuffer(plane, np.uint8).reshape(plane.height, plane.line_size)
    return rows[:, : plane.width]


def read_frames(source: Path | bytes) -> Iterator[np.ndarray]:
    """Yield every frame of the first video stream as BGR uint8.

    Raises:
        MediaError: unreadable, corrupt or truncated input (after the frames that did decode).
    """
    with _open(source) as container:
        stream = _video_stream(container, source)
        stream.thread_type = "AUTO"
        try:
            for frame in container.decode(stream):
                yield frame_to_bgr(frame)
        except (av.error.FFmpegError, ValueError) as exc:
            raise MediaError(f"cannot decode {_name(source)}: {exc}") from exc


class VideoWriter:
    """H.264 (libx264, yuv420p) writer, optionally copying the audio streams of ``audio_from``."""

    def __init__(
        self,
        path: Path | io.BytesIO,
        width: int,
        height: int,
        fps: Fraction | int,
        *,
        crf: int | None = DEFAULT_CRF,
        bitrate_kbps: int | None = None,
        preset: str = DEFAULT_PRESET,
        audio_from: av.container.InputContainer | None = None,
        container_format: str | None = None,
        keyint: int | None = None,
    ) -> None:
        if width % 2 or height % 2:
            raise MediaError(f"H.264 yuv420p needs even sides, got {width}x{height}")
        self._out = av.open(path if isinstance(path, io.BytesIO) else str(path), "w", format=container_format)
        self._stream = self._out.add_stream("libx264", rate=Fraction(fps))
        self._stream.width, self._stream.height, self._stream.pix_fmt = width, height, "yuv420p"
        options = {"preset": preset}
        if bitrate_kbps:
            self._stream.bit_rate = bitrate_kbps * 1000
            options.update({"maxrate": f"{bitrate_kbps}k", "bufsize": f"{2 * bitrate_kbps}k"})
        else:
            options["crf"] = str(crf if crf is not None else DEFAULT_CRF)
        if keyint:  # a keyframe at least every ``keyint`` frames, like a live encoder's GOP (x264's default is 250)
            options["g"] = str(keyint)
        self._stream.options = options
        self.audio_streams: dict[int, av.stream.Stream] = {}
        if audio_from is not None:
            for in_audio in audio_from.streams.audio:
                self.audio_streams[in_audio.index] = self._out.add_stream_from_template(in_audio)

    def write(self, frame: np.ndarray) -> None:
        video_frame = av.VideoFrame.from_ndarray(np.ascontiguousarray(frame[:, :, :3]), format="bgr24")
        for packet in self._stream.encode(video_frame):
            self._out.mux(packet)

    def mux_audio(self, packet: av.Packet) -> None:
        """Copy a demuxed audio packet of the template container."""
        if packet.dts is None:
            return  # demuxer flush packet
        packet.stream = self.audio_streams[packet.stream.index]
        self._out.mux(packet)

    def close(self) -> None:
        for packet in self._stream.encode(None):
            self._out.mux(packet)
        self._out.close()

    def __enter__(self) -> VideoWriter:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


def transcode(
    source: Path,
    destination: Path,
    process: Callable[[np.ndarray], np.ndarray],
    *,
    crf: int = DEFAULT_CRF,
    preset: str = DEFAULT_PRESET,
    on_frame: Callable[[], None] | None = None,
) -> int:
    """Decode ``source``, apply ``process`` to every frame, encode to ``destination`` with audio copied.

    The output size is taken from the first processed frame, cropped to even sides if needed
    (H.264 yuv420p). Returns the number of frames written.
    """
    with _open(source) as container:
        stream = _video_stream(container, source)
        stream.thread_type = "AUTO"
        fps = Fraction(stream.average_rate or stream.guessed_rate or 30)
        writer: VideoWriter | None = None
        early_audio: list[av.Packet] = []  # demuxed before the first frame fixed the output size
        count = 0
        try:
            for packet in container.demux(stream, *container.streams.audio):
                if packet.stream.type == "audio":
                    if writer is None:
                        early_audio.append(packet)
                    else:
                        writer.mux_audio(packet)
                    continue
                for frame in packet.decode():
                    out = process(frame_to_bgr(frame))
                    height, width = out.shape[0] & ~1, out.shape[1] & ~1
                    if writer is None:
                        if (height, width) != out.shape[:2]:
                            log.info("cropping %dx%d output to %dx%d (H.264 needs even sides)", out.shape[1], out.shape[0], width, height)
                        writer = VideoWriter(destination, width, height, fps, crf=crf, preset=preset, audio_from=container)
                        for early in early_audio:
                            writer.mux_audio(early)
                        early_audio.clear()
                    writer.write(out[:height, :width])
                    count += 1
                    if on_frame is not None:
                        on_frame()
        except (av.error.FFmpegError, ValueError) as exc:
            raise MediaError(f"cannot decode {source}: {exc}") from exc
        finally:
            if writer is not None:
                writer.close()
    if count == 0:
        raise MediaError(f"{source} contains no decodable video frames")
    return count


def encode_h264(
    frames: Iterable[np.ndarray],
    fps: int = 30,
    *,
    crf: int | None = None,
    bitrate_kbps: int | None = None,
    preset: str = DEFAULT_PRESET,
    keyint: int | None = None,
) -> bytes:
    """Encode BGR frames to an in-memory MP4 (H.264). Give ``crf`` or ``bitrate_kbps``; ``keyint``: the
    longest keyframe interval in frames (default: x264's own, 250)."""
    frames = list(frames)
    height, width = frames[0].shape[:2]
    buffer = io.BytesIO()
    with VideoWriter(
        buffer, width, height, fps, crf=crf, bitrate_kbps=bitrate_kbps, preset=preset, container_format="mp4",
        keyint=keyint,
    ) as writer:
        for frame in frames:
            writer.write(frame)
    return buffer.getvalue()
