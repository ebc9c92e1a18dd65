"""Layers import only from layers to their left (ARCHITECTURE.md guideline 1).

Order: errors/config/metrics (base) -> native -> io -> models -> training -> engine -> evaluation ->
scheduler -> obs -> demo -> cli. ``io`` sits right of ``native`` (not left, as in the guideline's
example) because decoding converts yuv420p frames with the native I420 kernel.
"""

from __future__ import annotations

import ast
from pathlib import Path

PACKAGE = Path(__file__).resolve().parents[1] / "python" / "streamenhance"
ORDER = ["native", "io", "models", "training", "engine", "evaluation", "scheduler", "obs", "demo", "bench", "cli"]
BASE = {"errors", "config", "metrics", "advice", "__init__"}


def _layer(module: str) -> str | None:
    parts = module.split(".")
    if parts[0] != "streamenhance" or len(parts) == 1:
        return None
    return parts[1]


def _imports(path: Path) -> set[str]:
    tree = ast.parse(path.read_text())
    names: set[str] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            names |= {alias.name for alias in node.names}
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            names.add(node.module)
            names |= {f"{node.module}.{alias.name}" for alias in node.names if node.module == "streamenhance"}
    return names


def test_imports_flow_one_way() -> None:
    violations = []
    for path in PACKAGE.rglob("*.py"):
        relative = path.relative_to(PACKAGE)
        own = relative.parts[0].removesuffix(".py")
        if own in BASE or own not in ORDER:
            continue
        for name in _imports(path):
            layer = _layer(name)
            if layer is None or layer in BASE or layer == own or layer.startswith("_"):
                continue
            if layer not in ORDER or ORDER.index(layer) > ORDER.index(own):
                violations.append(f"{relative} imports {name}")
    assert not violations, "\n".join(violations)


def test_base_modules_import_no_layer() -> None:
    for name in BASE - {"__init__"}:
        layers = {_layer(n) for n in _imports(PACKAGE / f"{name}.py")} - {None} - BASE
        assert not layers, f"{name}.py imports {layers}"
