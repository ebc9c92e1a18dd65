"""Screenshots for docs/OBS.md, taken in a headless OBS (same harness as the end-to-end tests).

    sudo .venv/bin/python -m tests.e2e.screenshots --out docs/img [--weights DIR]

Writes ``obs-filter-properties.png`` (OBS's Filters dialog with the streamenhance properties) and
``obs-before-after.png`` (the program scene with ``compare`` on: input stretched | enhanced).
``--weights`` points the engine at a weight folder (default: the shipped weights).
"""

from __future__ import annotations

import argparse
import re
import subprocess
import tempfile
import time
from pathlib import Path

from PIL import ImageGrab

from tests.e2e import images
from tests.e2e.harness import NetNamespace, ObsConfig, ObsProcess, missing_requirements


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--out", type=Path, default=Path("docs/img"))
    parser.add_argument("--weights", type=Path, default=None, help="weight folder for the engine in OBS")
    args = parser.parse_args()
    missing = missing_requirements()
    if missing:
        parser.error("; ".join(missing))
    args.out.mkdir(parents=True, exist_ok=True)

    with tempfile.TemporaryDirectory(prefix="se-obs-shots-") as tmp:
        home = Path(tmp)
        config = ObsConfig(home / "obs")
        config.seed()
        config.install_script()
        degraded = images.degrade(images.original(), factor=2, quality=35)
        picture = images.save_png(degraded, home / "degraded_640x360.png")
        env = {"STREAMENHANCE_WEIGHTS_DIR": str(args.weights.resolve())} if args.weights else {}
        netns = NetNamespace()
        obs = ObsProcess(config, netns, extra_env=env).start()
        try:
            obs.wait_warm()
            obs.add_image_scene("Show", "Camera", picture)
            obs.call("CreateSourceFilter", sourceName="Camera", filterName="streamenhance",
                     filterKind="streamenhance_filter", filterSettings={"scale": 2.0, "compare": True})
            status = obs.filter_status("Camera", "streamenhance")
            if status.get("state") != "failed":
                status = obs.wait_processed("Camera", "streamenhance", 3)
            time.sleep(0.5)
            obs.screenshot("Show", args.out / "obs-before-after.png")
            print(f"before/after: mode {status.get('mode')}, tier {status.get('tier')}, state {status.get('state')}, "
                  f"{status.get('last_error') or 'no error'}")

            obs.call("OpenInputFiltersDialog", inputName="Camera")
            time.sleep(2.0)  # let Qt lay the dialog out and paint it
            with netns.entered():  # the X server's abstract socket lives in the namespace
                screen = ImageGrab.grab(xdisplay=f":{obs.display}")
                tree = subprocess.run(["xwininfo", "-root", "-tree", "-display", f":{obs.display}"],
                                      capture_output=True, text=True, check=True).stdout
            screen.crop(dialog_box(tree, "Filters for 'Camera'")).save(args.out / "obs-filter-properties.png")
        finally:
            obs.stop()
            netns.close()
    print(f"wrote {args.out / 'obs-filter-properties.png'} and {args.out / 'obs-before-after.png'}")
    return 0


def dialog_box(tree: str, title: str) -> tuple[int, int, int, int]:
    """Screen box of the window titled ``title`` in ``xwininfo -root -tree`` output (no window manager:
    top-level windows are children of the root at their absolute position)."""
    for line in tree.splitlines():
        if f'"{title}"' in line:
            match = re.search(r"(\d+)x(\d+)\+(-?\d+)\+(-?\d+)\s+\+(-?\d+)\+(-?\d+)", line)
            if match:
                width, height, _, _, x, y = map(int, match.groups())
                return x, y, x + width, y + height
    raise RuntimeError(f"no window titled {title!r} on the X display")


if __name__ == "__main__":
    raise SystemExit(main())
