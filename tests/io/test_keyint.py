"""encode_h264's keyframe interval: a live encoder's GOP, honoured by x264."""

from __future__ import annotations

import io

import av
import numpy as np
import pytest

from streamenhance.io import encode_h264, read_frames


def smooth_pan(frames: int, side: int = 64, step: int = 2) -> list[np.ndarray]:
    """Smooth content panning steadily: no scene cut, so x264 adds no keyframe of its own."""
    ys, xs = np.mgrid[0:side, 0 : side + step * frames].astype(np.float32)
    gray = (128 + 60 * np.sin(xs / 9.0) * np.cos(ys / 7.0)).astype(np.uint8)
    canvas = np.stack([gray, gray, gray], axis=2)
    return [np.ascontiguousarray(canvas[:, t * step : t * step + side]) for t in range(frames)]


def keyframes(data: bytes) -> list[int]:
    with av.open(io.BytesIO(data)) as container:
        packets = [p for p in container.demux(container.streams.video[0]) if p.size]
        return [i for i, packet in enumerate(packets) if packet.is_keyframe]


@pytest.mark.parametrize(("keyint", "expected"), [(None, [0]), (60, [0, 60, 120]), (25, [0, 25, 50, 75, 100, 125])])
def test_keyframe_interval(keyint: int | None, expected: list[int]) -> None:
    frames = smooth_pan(130)
    data = encode_h264(frames, 30, crf=30, preset="veryfast", keyint=keyint)
    assert keyframes(data) == expected
    assert len(list(read_frames(data))) == 130
