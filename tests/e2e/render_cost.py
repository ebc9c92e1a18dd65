"""Where OBS's CPU goes while the filter runs: per-thread CPU of a headless OBS, with and without it.

    .venv/bin/python -m tests.e2e.render_cost [--seconds 10] [--json out.json]

One OBS (same harness as the end-to-end tests) shows a 640x360 picture on a 1280x720 canvas; the run
measures a window without the filter, then one with it (default settings, after it enhanced two
frames). Threads are grouped: ``llvmpipe`` (software GL rasterisers: what drawing costs), ``worker``
(the filter's inference thread, nice 19), ``graphics`` (OBS's render thread) and ``other``. Shares are
of one core (1.0 = a core busy for the whole window). Prints JSON.
"""

from __future__ import annotations

import argparse
import json
import os
import tempfile
import time
from pathlib import Path
from typing import Any

from tests.e2e import images
from tests.e2e.harness import NetNamespace, ObsConfig, ObsProcess, missing_requirements

TICKS = os.sysconf("SC_CLK_TCK")


def thread_ticks(pid: int) -> dict[tuple[str, str, int], int]:
    """(tid, name, nice) -> CPU ticks (user + system) of every thread of ``pid``."""
    out: dict[tuple[str, str, int], int] = {}
    for tid in os.listdir(f"/proc/{pid}/task"):
        try:
            stat = Path(f"/proc/{pid}/task/{tid}/stat").read_text()
        except OSError:  # the thread ended meanwhile
            continue
        name = stat[stat.index("(") + 1:stat.rindex(")")]
        fields = stat[stat.rindex(")") + 2:].split()
        out[(tid, name, int(fields[16]))] = int(fields[11]) + int(fields[12])
    return out


def group(name: str, nice: int) -> str:
    if name.startswith("llvmpipe"):
        return "llvmpipe"
    if name.startswith("libobs: graphic"):
        return "graphics"
    return "worker" if nice >= 19 else "other"


def measure(obs: ObsProcess, seconds: float) -> dict[str, Any]:
    """OBS's render window and per-group CPU shares over the next ``seconds``."""
    assert obs.obs is not None
    pid = obs.obs.pid
    before, started = thread_ticks(pid), time.monotonic()
    window = obs.render_window(seconds)
    after, elapsed = thread_ticks(pid), time.monotonic() - started
    shares: dict[str, float] = {}
    for key, ticks in after.items():
        name = group(key[1], key[2])
        shares[name] = shares.get(name, 0.0) + (ticks - before.get(key, 0)) / TICKS / elapsed
    return {"obs": window.as_dict(), "cpu_cores": {k: round(v, 2) for k, v in sorted(shares.items())}}


def run(seconds: float) -> dict[str, Any]:
    with tempfile.TemporaryDirectory(prefix="se-obs-cost-") as tmp:
        home = Path(tmp)
        config = ObsConfig(home / "obs", port=4461)
        config.seed()
        config.install_script()
        picture = images.save_png(images.degrade(images.original(), factor=2, quality=35), home / "in.png")
        netns = NetNamespace()
        obs = ObsProcess(config, netns).start()
        try:
            obs.wait_warm()
            obs.add_image_scene("Cost", "CostImg", picture)
            time.sleep(2)
            without = measure(obs, seconds)
            obs.call("CreateSourceFilter", sourceName="CostImg", filterName="Enhance",
                     filterKind="streamenhance_filter", filterSettings={})
            obs.wait_processed("CostImg", "Enhance", 2)
            with_filter = measure(obs, seconds)
            status = obs.filter_status("CostImg", "Enhance")
            with_filter["filter"] = {k: status.get(k) for k in ("fps_out", "latency_ms_p50", "inference_ms_p50",
                                                                  "mode", "tier", "device")}
        finally:
            obs.stop()
            netns.close()
    return {"without_filter": without, "with_filter": with_filter}


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--seconds", type=float, default=10.0)
    parser.add_argument("--json", type=Path, default=None, help="also write the result here")
    args = parser.parse_args()
    missing = missing_requirements()
    if missing:
        parser.error("; ".join(missing))
    result = run(args.seconds)
    text = json.dumps(result, indent=2)
    print(text)
    if args.json:
        args.json.write_text(text + "\n")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
