"""Weights as safetensors with metadata: save, load (never unpickle), and list what is available."""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

import torch
from safetensors import SafetensorError, safe_open
from safetensors.torch import save_file
from torch import nn

from streamenhance.errors import WeightsError
from streamenhance.models.complexity import count_params, macs_per_output_pixel
from streamenhance.models.registry import get_arch
from streamenhance.models.spec import ModelSpec, SizeRequirements

WEIGHTS_DIR_ENV = "STREAMENHANCE_WEIGHTS_DIR"
PACKAGED_WEIGHTS_DIR = Path(__file__).resolve().parent.parent / "weights"


def weights_dir() -> Path:
    """Directory searched for weights: ``$STREAMENHANCE_WEIGHTS_DIR`` or the packaged ``weights/``."""
    override = os.environ.get(WEIGHTS_DIR_ENV)
    return Path(override).expanduser() if override else PACKAGED_WEIGHTS_DIR


def build_model(arch: str, hyperparameters: dict[str, object]) -> nn.Module:
    """Instantiate a registered architecture; bad hyperparameters raise ``WeightsError``."""
    cls = get_arch(arch)
    try:
        return cls(**hyperparameters)
    except (TypeError, ValueError) as exc:
        raise WeightsError(f"{arch}: invalid hyperparameters {hyperparameters}: {exc}") from exc


def describe(model: nn.Module, arch: str, tier: str, mode: str, hyperparameters: dict[str, object]) -> ModelSpec:
    """A spec with measured parameter and MAC counts."""
    scale = int(hyperparameters.get("scale", 1))  # type: ignore[call-overload]
    forward = "residual" if scale > 1 else "forward"
    multiple_of = 4 if scale == 1 else 1
    return ModelSpec(
        arch=arch,
        tier=tier,
        scale=scale,
        mode=mode,
        hyperparameters=dict(hyperparameters),
        size=SizeRequirements(minimum=multiple_of, multiple_of=multiple_of),
        params=count_params(model),
        macs_per_pixel=macs_per_output_pixel(model, forward),
    )


def save_model(path: Path | str, model: nn.Module, spec: ModelSpec) -> None:
    """Write fp32 weights and ``spec`` metadata atomically (temp file + rename)."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    tensors = {k: v.detach().to("cpu", torch.float32).contiguous() for k, v in model.state_dict().items()}
    tmp = path.with_suffix(path.suffix + ".tmp")
    save_file(tensors, str(tmp), metadata=spec.to_metadata())
    tmp.replace(path)


def read_spec(path: Path) -> ModelSpec:
    """Read only the metadata of a weight file."""
    try:
        with safe_open(str(path), framework="pt") as handle:
            metadata = handle.metadata() or {}
    except FileNotFoundError:
        raise WeightsError(f"weights file not found: {path}") from None
    except (SafetensorError, OSError, ValueError) as exc:
        raise WeightsError(f"weights file {path} is corrupt or not safetensors: {exc}") from exc
    try:
        return ModelSpec.from_metadata(metadata)
    except (KeyError, ValueError) as exc:
        raise WeightsError(f"weights file {path} has invalid streamenhance metadata: {exc!r}") from exc


def load_model(path: Path, device: str | torch.device = "cpu") -> tuple[ModelSpec, nn.Module]:
    """Load a weight file into its architecture (strict), in eval mode on ``device``."""
    spec = read_spec(path)
    model = build_model(spec.arch, spec.hyperparameters)
    try:
        with safe_open(str(path), framework="pt", device="cpu") as handle:
            state = {key: handle.get_tensor(key) for key in handle.keys()}  # noqa: SIM118 (safe_open has no iter)
    except (SafetensorError, OSError, ValueError) as exc:
        raise WeightsError(f"weights file {path} is corrupt: {exc}") from exc
    try:
        model.load_state_dict(state, strict=True)
    except RuntimeError as exc:
        raise WeightsError(f"weights file {path} does not match {spec.arch} {spec.hyperparameters}: {exc}") from exc
    if not all(torch.isfinite(t).all() for t in state.values()):
        raise WeightsError(f"weights file {path} contains NaN or inf values")
    return spec, model.to(device).eval()


@dataclass(frozen=True)
class CatalogEntry:
    path: Path
    spec: ModelSpec


def catalog(directory: Path | str | None = None) -> list[CatalogEntry]:
    """Every readable weight file in ``directory`` (default ``weights_dir()``), sorted by name.

    Unreadable files are not skipped silently: they raise, because a broken install must be loud.
    """
    directory = Path(directory) if directory is not None else weights_dir()
    if not directory.is_dir():
        return []
    return [CatalogEntry(p, read_spec(p)) for p in sorted(directory.glob("*.safetensors"))]


def choose_ar(entries: list[CatalogEntry], mode: str, tier: str) -> CatalogEntry:
    """AR weights for ``mode``: the same tier as the SR net when installed, else the cheapest."""
    ar = [e for e in entries if e.spec.kind == "ar" and e.spec.mode == mode]
    if not ar:
        installed = ", ".join(e.spec.name for e in entries if e.spec.kind == "ar") or "none"
        raise WeightsError(f"no artifact-removal weights for mode {mode!r}; installed: {installed}")
    same_tier = [e for e in ar if e.spec.tier == tier]
    return same_tier[0] if same_tier else min(ar, key=lambda e: e.spec.macs_per_pixel)
