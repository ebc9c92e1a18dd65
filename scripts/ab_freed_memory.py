"""A/B of ``native.keep_freed_memory`` (docs/SPEED.md): ms per 640x360 frame of six engine paths, JSON on stdout.

    python scripts/ab_freed_memory.py off   # the call patched out
    python scripts/ab_freed_memory.py on

Run the two alternately in fresh processes (the effect depends on the process's allocation history).
"""

from __future__ import annotations

import json
import sys
import time

import numpy as np

from streamenhance import native

PATHS = {
    "ar_tiny_strong_x1": {"scale": 1, "mode": "strong", "tier": "tiny"},
    "ar_small_strong_x1": {"scale": 1, "mode": "strong", "tier": "small"},
    "ar_tiny_mild_sr_tiny_x2": {"scale": 2, "mode": "mild", "tier": "tiny"},
    "sr_tiny_x2": {"scale": 2, "mode": "off", "tier": "tiny"},
    "sr_small_x2": {"scale": 2, "mode": "off", "tier": "small"},
    "bicubic_x2": {"scale": 2, "mode": "off", "tier": "bicubic"},
}


def median_ms(enhance, frame: np.ndarray, frames: int = 20) -> float:
    enhance(frame)
    times = []
    for _ in range(frames):
        start = time.perf_counter()
        enhance(frame)
        times.append((time.perf_counter() - start) * 1e3)
    return round(float(np.median(times)), 1)


def main(setting: str) -> None:
    if setting == "off":
        native.keep_freed_memory = lambda: False
    from streamenhance import Enhancer

    frame = np.random.default_rng(0).integers(0, 256, (360, 640, 3), dtype=np.uint8)
    results = {name: median_ms(Enhancer(device="cpu", advisor=None, **options).enhance, frame)
               for name, options in PATHS.items()}
    print(json.dumps({"keep_freed_memory": setting, "median_ms": results}))


if __name__ == "__main__":
    if len(sys.argv) != 2 or sys.argv[1] not in ("on", "off"):
        sys.exit(__doc__)
    main(sys.argv[1])
