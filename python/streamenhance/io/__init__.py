"""Decode and encode media: images (Pillow) and video (PyAV). Frames are BGR uint8 numpy arrays."""

from __future__ import annotations

from streamenhance.io.images import is_image_path, read_image, write_image
from streamenhance.io.video import VideoInfo, VideoWriter, encode_h264, is_video_path, probe, read_frames, transcode

__all__ = [
    "VideoInfo",
    "VideoWriter",
    "encode_h264",
    "is_image_path",
    "is_video_path",
    "probe",
    "read_frames",
    "read_image",
    "transcode",
    "write_image",
]
