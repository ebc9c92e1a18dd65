"""Render suite results: JSON (every number), Markdown (one table per suite/condition), PSNR-vs-speed plot."""

from __future__ import annotations

import json
import math
import os
import platform
from collections.abc import Iterable
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

import numpy as np
import torch

from streamenhance.errors import ConfigError
from streamenhance.evaluation.auto_mode import auto_markdown

KIND_COLORS = {"ours": "#d62728", "peer": "#1f77b4", "baseline": "#7f7f7f"}


# ------------------------------------------------------------------------------------------- context


def environment(device: str) -> dict[str, Any]:
    """Where the numbers were measured; timings depend on it (and on other load: see ``load_average``)."""
    try:
        import cv2

        opencv: str | None = cv2.__version__
    except ModuleNotFoundError:
        opencv = None
    return {
        "date": datetime.now(timezone.utc).isoformat(timespec="seconds"),
        "python": platform.python_version(),
        "platform": platform.platform(),
        "cpu_count": os.cpu_count(),
        "torch": torch.__version__,
        "torch_threads": torch.get_num_threads(),
        "opencv": opencv,
        "device_ours": device,
        "device_peers": "cpu",
        "load_average": [round(x, 2) for x in os.getloadavg()] if hasattr(os, "getloadavg") else None,
    }


# ---------------------------------------------------------------------------------------------- JSON


def _plain(value: Any) -> Any:
    if isinstance(value, dict):
        return {str(k): _plain(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_plain(v) for v in value]
    if isinstance(value, np.generic):
        return value.item()
    if isinstance(value, Path):
        return str(value)
    return value


def write_json(path: Path, report: dict[str, Any]) -> None:
    """Write the whole report (NumPy scalars turned into Python numbers) as indented JSON."""
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(_plain(report), indent=2) + "\n")


# ------------------------------------------------------------------------------------------ Markdown


def fmt_params(params: int | None) -> str:
    """``261403`` -> ``261k``; ``0`` -> ``–`` (no weights); None -> ``?`` (unknown)."""
    if params is None:
        return "?"
    if params == 0:
        return "–"
    return f"{params / 1e6:.2f}M" if params >= 1e6 else f"{params / 1e3:.0f}k" if params >= 1e3 else str(params)


def fmt_ms(ms: float | None) -> str:
    if ms is None or not math.isfinite(ms):
        return "–"
    return f"{ms:.2f}" if ms < 10 else f"{ms:.1f}" if ms < 100 else f"{ms:.0f}"


def fmt_lap(wall_ms: float | None, cpu_ms: float | None) -> str:
    """``wall / CPU`` milliseconds, e.g. ``31.2 / 58.0``."""
    return f"{fmt_ms(wall_ms)} / {fmt_ms(cpu_ms)}"


def _cell(psnr: float, ssim: float | None, reference: float | None = None) -> str:
    text = f"{psnr:.2f}" + (f" / {ssim:.4f}" if ssim is not None else "")
    return text + (f" (ref {reference:.2f})" if reference is not None else "")


def _table(header: list[str], rows: Iterable[list[str]], numeric_from: int = 1) -> list[str]:
    align = ["---" if i < numeric_from else "---:" for i in range(len(header))]
    return ["| " + " | ".join(header) + " |", "|" + "|".join(align) + "|", *("| " + " | ".join(r) + " |" for r in rows)]


def _unique(values: Iterable[Any]) -> list[Any]:
    return list(dict.fromkeys(values))


def sr_markdown(sr: dict[str, Any]) -> list[str]:
    """One table per scale: PSNR / SSIM per set, params, median ms/frame on the first set, fixed-size speed."""
    lines = ["## Super-resolution on Set5 / Set14 / BSD100", "", f"Protocol: {sr['protocol']}.", ""]
    records = sr["records"]
    for scale in _unique(r["scale"] for r in records):
        rows_at = [r for r in records if r["scale"] == scale]
        sets = _unique(r["set"] for r in rows_at)
        by_key = {(r["method"], r["set"]): r for r in rows_at}
        speed = {s["method"]: s for s in sr.get("speed", []) if s["scale"] == scale}
        speed_label = ""
        if speed:
            h, w = next(iter(speed.values()))["input_hw"]
            speed_label = f"ms/frame @{w}x{h} (wall / CPU)"
        header = ["method", "params", *(f"{s} PSNR / SSIM" for s in sets), f"ms/frame {sets[0]} (wall / CPU)"]
        header += [speed_label] if speed_label else []
        rows = []
        for method in _unique(r["method"] for r in rows_at):
            first = by_key.get((method, sets[0]))
            cells = [method, fmt_params(next(r["params"] for r in rows_at if r["method"] == method))]
            for s in sets:
                r = by_key.get((method, s))
                cells.append(_cell(r["psnr_y"], r["ssim_y"], r["reference"]) if r else "–")
            cells.append(fmt_lap(first["ms_median"], first.get("cpu_ms_median")) if first else "–")
            if speed_label:
                cells.append(fmt_lap(speed[method]["ms"], speed[method].get("cpu_ms")) if method in speed else "–")
            rows.append(cells)
        lines += [f"### x{scale}", "", *_table(header, rows), ""]
        inputs = next((r["input"] for r in rows_at if r["set"] == sets[0]), "")
        speed_text = ""
        if speed:
            h, w = next(iter(speed.values()))["input_hw"]
            speed_text = f"ms/frame @{w}x{h}: median of timed calls on one {w}x{h} input after a warm-up call. "
        lines += [
            f"ms/frame {sets[0]}: median over the set after one warm-up call ({sets[0]} x{scale} LR: {inputs}); "
            f"{speed_text}Wall = latency, CPU = process CPU time over all threads. "
            "ref = published value (for OpenCV: measured under this protocol by the protocol doc).",
            "",
            *_detail_table(rows_at, sets),
        ]
    lines += _notes(records)
    return lines


def _detail_table(rows_at: list[dict[str, Any]], sets: list[str]) -> list[str]:
    """Fine-detail energy beside PSNR: pixel-loss nets smooth texture, a detail variant restores some."""
    by_key = {(r["method"], r["set"]): r for r in rows_at if "detail_y" in r}
    if not by_key:
        return []
    rows = [
        [method, *(f"{by_key[(method, s)]['detail_y']:.3f}" if (method, s) in by_key else "–" for s in sets)]
        for method in _unique(r["method"] for r in rows_at)
    ]
    return [
        "Fine detail: mean squared Laplacian of Y over the ground truth's (1 = as much fine detail as the target; "
        "not whether it is the right detail, so read it next to PSNR).",
        "",
        *_table(["method", *sets], rows),
        "",
    ]


def _notes(records: Iterable[dict[str, Any]]) -> list[str]:
    notes = {r["method"]: r.get("note") for r in records if r.get("note")}
    return [*(f"- {name}: {note}" for name, note in notes.items()), ""] if notes else []


def _crf_table(rows: list[dict[str, Any]], crfs: list[int]) -> list[str]:
    kbps = {r["crf"]: r["kbps"] for r in rows}
    header = [
        "method",
        "params",
        *(f"CRF {c} ({kbps[c]:.0f} kbps)" for c in crfs),
        f"tMAD excess @CRF {crfs[-1]}",
        "ms/frame (wall / CPU)",
    ]
    by_key = {(r["method"], r["crf"]): r for r in rows}
    table = []
    for method in _unique(r["method"] for r in rows):
        first = next(r for r in rows if r["method"] == method)
        cells = [method, fmt_params(first["params"])]
        cells += [
            _cell(by_key[(method, c)]["psnr_y"], by_key[(method, c)]["ssim_y"]) if (method, c) in by_key else "–"
            for c in crfs
        ]
        last = by_key.get((method, crfs[-1]))
        cells += [
            f"{last['tmad_excess']:+.3f}" if last else "–",
            fmt_lap(first["ms_median"], first.get("cpu_ms_median")),
        ]
        table.append(cells)
    return _table(header, table)


def video_markdown(result: dict[str, Any]) -> list[str]:
    """Compressed SR and x1 tables per clip (PSNR / SSIM per CRF), then the temporal table."""
    lines = ["## Video: H.264-compressed input and temporal stability", "", f"Protocol: {result['protocol']}.", ""]
    clips = result.get("clips", {})
    for test, title in (
        ("compressed_sr", "x2 SR of the decoded LR stream"),
        ("artifact_removal", "x1 artifact removal"),
    ):
        rows = result.get(test, [])
        for clip in _unique(r["clip"] for r in rows):
            clip_rows = [r for r in rows if r["clip"] == clip]
            info = clips.get(clip, {})
            h, w = clip_rows[0]["input_hw"]
            size = f"input {w}x{h}, {info.get('frames', '?')} frames @ {info.get('fps', '?')} fps"
            lines += [
                f"### {title}: {clip} ({size})",
                "",
                *_crf_table(clip_rows, _unique(r["crf"] for r in clip_rows)),
                "",
            ]
    temporal = result.get("temporal", [])
    if temporal:
        header = [
            "method",
            "scale",
            "params",
            "PSNR-Y / SSIM",
            "tMAD out",
            "tMAD GT",
            "excess",
            "temporal error",
            "≤ bicubic",
            "ms/frame (wall / CPU)",
        ]
        rows = [
            [
                r["method"],
                f"x{r['scale']}",
                fmt_params(r["params"]),
                _cell(r["psnr_y"], r["ssim_y"]),
                f"{r['tmad_output']:.3f}",
                f"{r['tmad_truth']:.3f}",
                f"{r['tmad_excess']:+.3f}",
                f"{r['temporal_error']:.3f}",
                {True: "yes", False: "no", None: "–"}[r["within_bicubic_flicker"]],
                fmt_lap(r["ms_median"], r.get("cpu_ms_median")),
            ]
            for r in temporal
        ]
        clip = temporal[0]["clip"]
        lines += [f"### Temporal stability: {clip}, clean MATLAB-bicubic LR", "", *_table(header, rows), ""]
        lines += [
            "excess = tMAD(output) - tMAD(ground truth), tMAD = mean |Y_t - Y_t-1| (shave s). Bar: ours no larger "
            "than bicubic's. A negative excess means lost detail (blur removes motion energy too); temporal error "
            "= mean |dOut - dGT| counts flicker and lost motion together.",
            "",
        ]
    return lines


def jpeg_markdown(result: dict[str, Any]) -> list[str]:
    """One table: PSNR / SSIM per quality (with the published value), params, ms/frame."""
    records = result["records"]
    qualities = _unique(r["quality"] for r in records)
    by_key = {(r["method"], r["quality"]): r for r in records}
    h, w = records[0]["input_hw"] if records else (0, 0)
    header = ["method", "params", *(f"q{q} PSNR / SSIM" for q in qualities), f"ms/frame {w}x{h} (wall / CPU)"]
    rows = []
    for method in _unique(r["method"] for r in records):
        first = by_key[(method, qualities[0])]
        cells = [method, fmt_params(first["params"])]
        cells += [
            _cell(by_key[(method, q)]["psnr"], by_key[(method, q)]["ssim"], by_key[(method, q)]["reference"])
            for q in qualities
        ]
        rows.append([*cells, fmt_lap(first["ms_median"], first.get("cpu_ms_median"))])
    lines = [
        "## JPEG artifact removal: Classic5 (gray)",
        "",
        f"Protocol: {result['protocol']}.",
        "",
        *_table(header, rows),
        "",
    ]
    return lines + _notes(records)


def render_markdown(report: dict[str, Any]) -> str:
    """The whole report as Markdown: context, one section per suite run, then what could not be measured."""
    env = report.get("environment", {})
    lines = ["# streamenhance evaluation", ""]
    if env:
        lines += [
            f"Measured {env.get('date', '?')} on {env.get('cpu_count', '?')} CPU cores "
            f"(torch {env.get('torch', '?')}, {env.get('torch_threads', '?')} threads; "
            f"OpenCV {env.get('opencv') or 'absent'}; "
            f"ours on {env.get('device_ours', '?')}, peers on cpu; load average {env.get('load_average')} at start, "
            f"{env.get('load_average_end')} at the end; run took {report.get('seconds', '?')} s).",
            "",
        ]
    renderers = {"sr": sr_markdown, "video": video_markdown, "jpeg": jpeg_markdown, "auto": auto_markdown}
    for suite, render in renderers.items():
        if suite in report:
            lines += render(report[suite])
    missing = report.get("unavailable", [])
    if missing:
        lines += ["## Not measured", "", *(f"- {m['name']}: unavailable: {m['reason']}" for m in missing), ""]
    return "\n".join(lines).rstrip() + "\n"


# ---------------------------------------------------------------------------------------------- plot


def plot_points(report: dict[str, Any], set_name: str = "Set5", scale: int = 2) -> list[tuple[str, str, float, float]]:
    """(method, kind, ms/frame, PSNR-Y) of every SR method measured on ``set_name`` at ``scale``.

    Raises:
        ConfigError: that set/scale was not measured.
    """
    records = report.get("sr", {}).get("records", [])
    points = [
        (r["method"], r["kind"], r["ms_median"], r["psnr_y"])
        for r in records
        if r["set"] == set_name and r["scale"] == scale
    ]
    if not points:
        measured = sorted({f"{r['set']} x{r['scale']}" for r in records}) or ["nothing (run the sr suite)"]
        raise ConfigError(f"plot: expected a measured set and scale ({', '.join(measured)}), got {set_name} x{scale}")
    return points


def write_plot(
    path: Path, report: dict[str, Any], set_name: str = "Set5", scale: int = 2
) -> list[tuple[str, str, float, float]]:
    """Scatter PSNR-Y against median ms/frame (log x) for ``set_name`` at ``scale`` as a PNG; returns the points.

    Raises:
        ConfigError: matplotlib missing, or nothing measured for that set/scale.
    """
    points = plot_points(report, set_name, scale)
    try:
        from matplotlib.backends.backend_agg import FigureCanvasAgg
        from matplotlib.figure import Figure
    except ModuleNotFoundError as exc:
        raise ConfigError(f"--plot needs matplotlib (pip install -e '.[bench]'): {exc}") from exc
    figure = Figure(figsize=(8, 5.5), dpi=100)
    FigureCanvasAgg(figure)  # Agg canvas without pyplot: no global backend state, no display needed
    axes = figure.add_subplot()
    for name, kind, ms, value in points:
        x = max(ms, 1e-3)  # a log axis cannot show 0 ms
        axes.scatter([x], [value], color=KIND_COLORS.get(kind, "#2ca02c"), s=40, zorder=3)
        axes.annotate(name, (x, value), textcoords="offset points", xytext=(5, 4), fontsize=8)
    for kind in _unique(kind for _, kind, _, _ in points):
        axes.scatter([], [], color=KIND_COLORS.get(kind, "#2ca02c"), s=40, label=kind)  # legend entries only
    axes.legend(loc="lower right", fontsize=8)
    axes.set_xscale("log")
    axes.set_xlabel("ms/frame, wall clock on the CPU (median over the set, after a warm-up call)")
    axes.set_ylabel(f"PSNR-Y (dB), {set_name} x{scale}, MATLAB-bicubic protocol")
    axes.set_title(f"Quality vs speed: {set_name} x{scale}")
    axes.grid(True, which="both", alpha=0.3)
    path.parent.mkdir(parents=True, exist_ok=True)
    figure.savefig(path, format="png")
    return points
