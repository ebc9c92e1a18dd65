"""Images and video through PyAV: round trips, audio copy, the native I420 path, broken files."""

from __future__ import annotations

import io
from fractions import Fraction
from pathlib import Path

import av
import numpy as np
import pytest

from streamenhance.errors import MediaError
from streamenhance.io import VideoWriter, encode_h264, probe, read_frames, read_image, transcode, write_image
from streamenhance.io.video import frame_to_bgr
from streamenhance.metrics import psnr


def gradient_frames(count: int, height: int = 48, width: int = 64) -> list[np.ndarray]:
    ys, xs = np.mgrid[0:height, 0:width]
    return [np.stack([(xs * 4 + t * 8) % 256, (ys * 5) % 256, (xs + ys + t) % 256], axis=2).astype(np.uint8) for t in range(count)]


def write_clip_with_audio(path: Path, frames: list[np.ndarray], fps: int = 10) -> None:
    """An MP4 with H.264 video and an AAC tone, written with PyAV."""
    with av.open(str(path), "w") as out:
        video = out.add_stream("libx264", rate=fps)
        video.width, video.height, video.pix_fmt = frames[0].shape[1], frames[0].shape[0], "yuv420p"
        video.options = {"crf": "12"}
        audio = out.add_stream("aac", rate=48000)
        for frame in frames:
            for packet in video.encode(av.VideoFrame.from_ndarray(frame, format="bgr24")):
                out.mux(packet)
        samples = int(48000 * len(frames) / fps)
        tone = (0.2 * np.sin(np.arange(samples) * 2 * np.pi * 440 / 48000)).astype(np.float32)[None]
        for start in range(0, samples, 1024):
            audio_frame = av.AudioFrame.from_ndarray(tone[:, start : start + 1024], format="flt", layout="mono")
            audio_frame.sample_rate = 48000
            for packet in audio.encode(audio_frame):
                out.mux(packet)
        for stream in (video, audio):
            for packet in stream.encode(None):
                out.mux(packet)


def test_image_roundtrip_keeps_bgr_order(tmp_path: Path, rng) -> None:
    image = rng.integers(0, 256, (5, 7, 3), dtype=np.uint8)
    write_image(tmp_path / "a.png", image)
    np.testing.assert_array_equal(read_image(tmp_path / "a.png"), image)


def test_image_paths_may_be_strings(tmp_path: Path, rng) -> None:
    frame = rng.integers(0, 256, (6, 5, 3), dtype=np.uint8)
    path = str(tmp_path / "nested" / "frame.png")
    write_image(path, frame)
    np.testing.assert_array_equal(read_image(path), frame)


def test_gray_image(tmp_path: Path, rng) -> None:
    gray = rng.integers(0, 256, (6, 4), dtype=np.uint8)
    write_image(tmp_path / "g.png", gray)
    np.testing.assert_array_equal(read_image(tmp_path / "g.png", keep_gray=True), gray)
    assert read_image(tmp_path / "g.png").shape == (6, 4, 3)


@pytest.mark.parametrize("content", [b"", b"not an image at all"])
def test_broken_image(tmp_path: Path, content: bytes) -> None:
    (tmp_path / "x.png").write_bytes(content)
    with pytest.raises(MediaError, match="cannot read image"):
        read_image(tmp_path / "x.png")
    with pytest.raises(MediaError, match="not found"):
        read_image(tmp_path / "missing.png")


def test_h264_roundtrip_quality() -> None:
    frames = gradient_frames(6)
    decoded = list(read_frames(encode_h264(frames, crf=10)))
    assert len(decoded) == 6
    assert min(psnr(a, b, on_luma=False) for a, b in zip(decoded, frames, strict=True)) > 35


def _exact_bgr(frame: av.VideoFrame, matrix_tag: int, full: bool) -> np.ndarray:
    """Float BT.601/BT.709 conversion of a yuv420p frame (chroma replicated), rounded once."""
    height, width = frame.height, frame.width
    y = np.frombuffer(frame.planes[0], np.uint8).reshape(height, -1)[:, :width].astype(np.float64)
    u, v = (
        np.frombuffer(p, np.uint8).reshape(height // 2, -1)[:, : width // 2].astype(np.float64).repeat(2, 0).repeat(2, 1)
        for p in frame.planes[1:]
    )
    kr, kb = (0.2126, 0.0722) if matrix_tag == 1 else (0.299, 0.114)
    if full:
        luma, cb, cr = y, u - 128, v - 128
    else:
        luma, cb, cr = (y - 16) * 255 / 219, (u - 128) * 255 / 224, (v - 128) * 255 / 224
    red, blue = luma + 2 * (1 - kr) * cr, luma + 2 * (1 - kb) * cb
    green = (luma - kr * red - kb * blue) / (1 - kr - kb)
    return np.clip(np.floor(np.stack([blue, green, red], axis=2) + 0.5), 0, 255)


@pytest.mark.parametrize(("matrix_tag", "full"), [(1, False), (5, False), (1, True), (2, True)])
def test_native_i420_conversion_matches_exact_math_and_ffmpeg(matrix_tag: int, full: bool) -> None:
    """Our kernel is within 1 level of the exact conversion (its fixed point); FFmpeg's swscale fast
    path is within 3 of it, so against FFmpeg the tolerance is 3."""
    rng = np.random.default_rng(0)
    frame = av.VideoFrame(34, 22, "yuv420p")
    for plane in frame.planes:
        plane.update(rng.integers(16, 236, plane.buffer_size, dtype=np.uint8).tobytes())
    frame.colorspace = matrix_tag
    frame.color_range = 2 if full else 1
    ours = frame_to_bgr(frame).astype(int)
    ffmpeg = frame.to_ndarray(format="bgr24", dst_colorspace=matrix_tag, src_colorspace=matrix_tag,
                              src_color_range=2 if full else 1, dst_color_range=2)
    assert ours.shape == (22, 34, 3)
    assert np.abs(ours - _exact_bgr(frame, matrix_tag, full)).max() <= 1
    assert np.abs(ours - ffmpeg.astype(int)).max() <= 3


def test_transcode_copies_audio_and_changes_size(tmp_path: Path) -> None:
    source, target = tmp_path / "in.mp4", tmp_path / "out.mp4"
    write_clip_with_audio(source, gradient_frames(10))
    count = transcode(source, target, lambda f: np.ascontiguousarray(np.repeat(np.repeat(f, 2, 0), 2, 1)))
    assert count == 10
    info = probe(target)
    assert (info.width, info.height, info.has_audio) == (128, 96, True)
    assert info.fps == Fraction(10)
    with av.open(str(source)) as a, av.open(str(target)) as b:
        packets_in = sum(1 for p in a.demux(a.streams.audio[0]) if p.dts is not None)
        packets_out = sum(1 for p in b.demux(b.streams.audio[0]) if p.dts is not None)
    assert packets_in == packets_out > 0


def test_truncated_video_raises_media_error(tmp_path: Path) -> None:
    data = encode_h264(gradient_frames(8), crf=20)
    broken = tmp_path / "broken.mp4"
    broken.write_bytes(data[: len(data) // 3])
    with pytest.raises(MediaError):
        transcode(broken, tmp_path / "out.mp4", lambda f: f)


@pytest.mark.parametrize("content", [b"", b"\x00" * 64, b"garbage" * 100])
def test_corrupt_video_raises_media_error(tmp_path: Path, content: bytes) -> None:
    path = tmp_path / "bad.mp4"
    path.write_bytes(content)
    with pytest.raises(MediaError):
        list(read_frames(path))


def test_writer_rejects_odd_sizes() -> None:
    with pytest.raises(MediaError, match="even sides"):
        VideoWriter(io.BytesIO(), 33, 20, 30, container_format="mp4")
