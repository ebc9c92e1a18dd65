"""Other projects' released models as evaluation methods, with the Method signature of ``protocol``.

Peers live in ``<peers>/{PAN,realesr_animevideov3,opencv_dnn_superres,DnCNN3}`` (``$STREAMENHANCE_PEERS``, else
``peers/`` beside the data root). A peer whose file or package is missing is reported as ``Unavailable``
with the reason, never silently dropped. ``.pth`` files are read with ``torch.load(weights_only=True)``: plain
tensors only, no arbitrary unpickling.
"""

from __future__ import annotations

import os
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import torch
from torch import nn

from streamenhance.errors import ConfigError, WeightsError
from streamenhance.evaluation.peer_nets import PAN, DnCNN, SRVGGNetCompact
from streamenhance.evaluation.protocol import Method, NamedMethod, as_gray

PEERS_ENV = "STREAMENHANCE_PEERS"
BENCH_EXTRA = "pip install -e '.[bench]'"

# Published (paper) or doc-measured numbers shown beside ours in the report: PSNR-Y in dB.
REFERENCES: dict[tuple[str, int], dict[str, float]] = {
    ("bicubic", 2): {"Set5": 33.66, "Set14": 30.24, "BSD100": 29.56},
    ("bicubic", 4): {"Set5": 28.42, "Set14": 26.00, "BSD100": 25.96},
    ("PAN", 2): {"Set5": 38.00, "Set14": 33.59, "BSD100": 32.18},
    ("PAN", 4): {"Set5": 32.13, "Set14": 28.61, "BSD100": 27.59},
    # OpenCV models as measured on this data under the protocol (EVAL_PROTOCOL.md), not their papers.
    ("OpenCV ESPCN", 2): {"Set5": 34.76, "BSD100": 30.09},
    ("OpenCV FSRCNN", 2): {"Set5": 34.85, "BSD100": 30.23},
    ("OpenCV FSRCNN-small", 2): {"Set5": 34.49},
    ("JPEG", 1): {"q10": 27.82},
    ("DnCNN-3", 1): {"q10": 29.40, "q20": 31.63, "q30": 32.91, "q40": 33.77},
}


@dataclass(frozen=True)
class Peer:
    """A released model wrapped as a Method.

    Attributes:
        name: display name, e.g. ``PAN`` (the scale is reported separately).
        task: ``sr`` (LR -> HR) or ``ar`` (same size, artifact removal).
        scale: output/input ratio (1 for ``ar``).
        method: the Method (LR image, HR (h, w)) -> output image.
        params: parameter count where known.
        source: the weight file.
        note: how to read its numbers.
    """

    name: str
    task: str
    scale: int
    method: Method
    params: int | None
    source: str
    note: str = ""
    reference: dict[str, float] = field(default_factory=dict)

    def named(self) -> NamedMethod:
        """This peer as a report entry of kind ``peer``."""
        return NamedMethod(self.name, "peer", self.method, self.params, self.note, dict(self.reference))


@dataclass(frozen=True)
class Unavailable:
    """A method that could not be measured, and why."""

    name: str
    reason: str


def default_peers_root(data_root: Path | None) -> Path | None:
    """``$STREAMENHANCE_PEERS``, else ``peers/`` beside the data root (``../shared/peers``), if it exists."""
    candidates = [Path(os.environ[PEERS_ENV])] if os.environ.get(PEERS_ENV) else []
    if data_root is not None:
        candidates.append(data_root.parent / "peers")
    return next((c for c in candidates if c.is_dir()), None)


# ----------------------------------------------------------------------------------------- torch peers


def load_pth_state(path: Path) -> dict[str, torch.Tensor]:
    """Tensors of a ``.pth`` state dict (``params_ema`` / ``params`` unwrapped), loaded without unpickling code.

    Raises:
        WeightsError: missing file, or not a plain tensor state dict.
    """
    if not path.is_file():
        raise WeightsError(f"peer weights not found: {path}")
    try:
        state = torch.load(path, map_location="cpu", weights_only=True)
    except Exception as exc:  # torch raises UnpicklingError, RuntimeError, EOFError... for a bad file
        raise WeightsError(
            f"peer weights {path}: expected a tensor state dict, got an unreadable file ({exc})"
        ) from exc
    for key in ("params_ema", "params"):
        if isinstance(state, dict) and key in state:
            state = state[key]
            break
    if not isinstance(state, dict) or not all(isinstance(v, torch.Tensor) for v in state.values()):
        raise WeightsError(f"peer weights {path}: expected a dict of tensors, got {type(state).__name__}")
    return state


def _load_strict(model: nn.Module, state: dict[str, torch.Tensor], path: Path) -> nn.Module:
    try:
        model.load_state_dict(state, strict=True)
    except RuntimeError as exc:
        raise WeightsError(f"peer weights {path} do not match {type(model).__name__}: {exc}") from exc
    return model.eval()


def count_params(model: nn.Module) -> int:
    return sum(p.numel() for p in model.parameters())


def rgb_net_method(net: nn.Module) -> Method:
    """Wrap an RGB [0, 1] network: BGR uint8 in, BGR uint8 out (rounded); gray is replicated and averaged back."""

    def run(bgr: np.ndarray) -> np.ndarray:
        rgb = np.ascontiguousarray(bgr[:, :, ::-1])  # a copy: torch wants writable memory
        x = torch.from_numpy(rgb).permute(2, 0, 1).unsqueeze(0).float().div_(255.0)
        with torch.inference_mode():
            y = net(x)[0].clamp_(0.0, 1.0).mul_(255.0).round_().to(torch.uint8)
        return np.ascontiguousarray(y.permute(1, 2, 0).numpy()[:, :, ::-1])

    def method(lr: np.ndarray, hr_hw: tuple[int, int]) -> np.ndarray:
        if lr.ndim == 2:
            return as_gray(run(np.repeat(lr[:, :, None], 3, axis=2)))
        return run(lr)

    return method


def load_pan(path: Path, scale: int) -> nn.Module:
    """PAN from its released ``PANx{s}_DF2K.pth``."""
    return _load_strict(PAN(scale), load_pth_state(path), path)


def load_srvgg(path: Path) -> nn.Module:
    """SRVGGNetCompact x4 (``realesr-animevideov3.pth``: 64 features, 16 body convs)."""
    return _load_strict(SRVGGNetCompact(scale=4, num_feat=64, num_conv=16), load_pth_state(path), path)


def load_dncnn_mat(path: Path) -> nn.Module:
    """DnCNN from a MatConvNet ``simplenn`` file saved as MATLAB v7.3 (HDF5), batch norm already folded.

    MATLAB stores arrays column-major, so HDF5 exposes a conv filter (H, W, Cin, Cout) as (Cout, Cin, W, H).

    Raises:
        WeightsError: h5py missing, or the file is not such a network.
    """
    try:
        import h5py
    except ModuleNotFoundError as exc:
        raise WeightsError(f"DnCNN .mat needs h5py ({BENCH_EXTRA}): {exc}") from exc
    if not path.is_file():
        raise WeightsError(f"peer weights not found: {path}")
    with h5py.File(path, "r") as handle:
        layers = [handle[ref] for ref in np.asarray(handle["net/layers"]).ravel()]
        convs = [layer for layer in layers if _mat_string(layer["type"]) == "conv"]
        model = DnCNN(depth=len(convs))
        targets = [m for m in model.body if isinstance(m, nn.Conv2d)]
        for layer, conv in zip(convs, targets, strict=True):
            weight_ref, bias_ref = np.asarray(layer["weights"]).ravel()
            cout, cin, kh, kw = conv.weight.shape
            weight = np.asarray(handle[weight_ref], np.float32).reshape(cout, cin, kw, kh).transpose(0, 1, 3, 2)
            bias = np.asarray(handle[bias_ref], np.float32).ravel()
            if bias.size != cout:
                raise WeightsError(f"{path}: conv bias has {bias.size} values, expected {cout}")
            conv.weight.data.copy_(torch.from_numpy(np.ascontiguousarray(weight)))
            conv.bias.data.copy_(torch.from_numpy(bias))
    return model.eval()


def _mat_string(dataset: object) -> str:
    return "".join(chr(int(c)) for c in np.asarray(dataset).ravel())


def gray_net_method(net: nn.Module) -> Method:
    """Wrap a gray [0, 1] network (DnCNN): gray uint8 in and out; BGR inputs are processed per channel."""

    def run(gray: np.ndarray) -> np.ndarray:
        x = torch.from_numpy(np.array(gray, np.float32, copy=True)).div_(255.0)[None, None]
        with torch.inference_mode():
            return net(x)[0, 0].clamp_(0.0, 1.0).mul_(255.0).round_().to(torch.uint8).numpy()

    def method(image: np.ndarray, hr_hw: tuple[int, int]) -> np.ndarray:
        if image.shape[:2] != tuple(hr_hw):
            raise ConfigError(f"DnCNN is a same-size restorer: expected input {hr_hw}, got {image.shape[:2]}")
        if image.ndim == 2:
            return run(image)
        return np.ascontiguousarray(np.stack([run(image[:, :, c]) for c in range(3)], axis=2))

    return method


# ---------------------------------------------------------------------------------------------- OpenCV

OPENCV_MODELS = {"ESPCN": "espcn", "FSRCNN": "fsrcnn", "FSRCNN-small": "fsrcnn", "LapSRN": "lapsrn"}


def _import_cv2() -> object:
    try:
        import cv2
    except ModuleNotFoundError as exc:
        raise ModuleNotFoundError(f"opencv-contrib-python-headless is not installed ({BENCH_EXTRA})") from exc
    if not hasattr(cv2, "dnn_superres"):
        raise ModuleNotFoundError("cv2 has no dnn_superres: install opencv-contrib-python-headless, not opencv-python")
    return cv2


def _opencv_params(cv2: object, path: Path, model: str, scale: int) -> int | None:
    """Weights counted from the graph's layer blobs; ESPCN's graph fails to import in some OpenCV versions,
    then its known layout (5x5x64, 3x3x32, 3x3 x s^2 sub-pixel; checked against the x4 count) is used."""
    try:
        net = cv2.dnn.readNetFromTensorflow(str(path))  # type: ignore[attr-defined]
        return int(sum(b.size for name in net.getLayerNames() for b in (net.getLayer(name).blobs or [])))
    except cv2.error:  # type: ignore[attr-defined]
        if model == "ESPCN":
            return 5 * 5 * 64 + 64 + 3 * 3 * 64 * 32 + 32 + 3 * 3 * 32 * scale * scale + scale * scale
        return None


def opencv_method(path: Path, model: str, scale: int) -> tuple[Method, int | None]:
    """``cv2.dnn_superres`` model as a Method (OpenCV runs it on Y and bicubic-upsamples the chroma itself)."""
    cv2 = _import_cv2()
    if not path.is_file():
        raise WeightsError(f"peer weights not found: {path}")
    silence = getattr(getattr(cv2, "utils", None), "logging", None)
    if silence is not None:  # the TF importer prints a stack of warnings for graphs it half-understands
        silence.setLogLevel(silence.LOG_LEVEL_ERROR)
    engine = cv2.dnn_superres.DnnSuperResImpl_create()  # type: ignore[attr-defined]
    engine.readModel(str(path))
    engine.setModel(OPENCV_MODELS[model], scale)

    def method(lr: np.ndarray, hr_hw: tuple[int, int]) -> np.ndarray:
        if lr.ndim == 2:
            return as_gray(engine.upsample(np.ascontiguousarray(np.repeat(lr[:, :, None], 3, axis=2))))
        return engine.upsample(np.ascontiguousarray(lr))

    return method, _opencv_params(cv2, path, model, scale)


# ------------------------------------------------------------------------------------------- discovery


def _try(name: str, build: Callable[[], Peer], unavailable: list[Unavailable]) -> list[Peer]:
    try:
        return [build()]
    except (WeightsError, ModuleNotFoundError) as exc:
        unavailable.append(Unavailable(name, str(exc)))
        return []


def sr_peers(peers_root: Path | None, scale: int) -> tuple[list[Peer], list[Unavailable]]:
    """Every SR peer released for ``scale`` (2 or 4), and those that could not be loaded."""
    if scale not in (2, 4):
        raise ConfigError(f"peer scale: expected 2 or 4, got {scale!r}")
    if peers_root is None:
        return [], [Unavailable(f"peers x{scale}", f"no peers folder: set ${PEERS_ENV} or put peers/ beside the data")]
    unavailable: list[Unavailable] = []
    peers: list[Peer] = []

    def pan() -> Peer:
        path = peers_root / "PAN" / f"PANx{scale}_DF2K.pth"
        net = load_pan(path, scale)
        return Peer(
            "PAN", "sr", scale, rgb_net_method(net), count_params(net), str(path), reference=REFERENCES[("PAN", scale)]
        )

    peers += _try(f"PAN x{scale}", pan, unavailable)
    if scale == 4:

        def srvgg() -> Peer:
            path = peers_root / "realesr_animevideov3" / "realesr-animevideov3.pth"
            net = load_srvgg(path)
            note = "perceptual (GAN) model for anime video: judge by speed and look, not PSNR"
            return Peer("realesr-animevideov3", "sr", 4, rgb_net_method(net), count_params(net), str(path), note)

        peers += _try("realesr-animevideov3 x4", srvgg, unavailable)
    for model in OPENCV_MODELS:
        path = peers_root / "opencv_dnn_superres" / f"{model}_x{scale}.pb"
        if model == "LapSRN" and not path.is_file():
            continue  # only the x2 LapSRN is shipped; not a failure

        def opencv(model: str = model, path: Path = path) -> Peer:
            method, params = opencv_method(path, model, scale)
            note = "trained on a non-antialiased downscaler: weak under the MATLAB protocol"
            name = f"OpenCV {model}"
            return Peer(name, "sr", scale, method, params, str(path), note, REFERENCES.get((name, scale), {}))

        peers += _try(f"OpenCV {model} x{scale}", opencv, unavailable)
    return peers, unavailable


def ar_peers(peers_root: Path | None) -> tuple[list[Peer], list[Unavailable]]:
    """Same-size restoration peers (DnCNN-3 for JPEG), and those that could not be loaded."""
    if peers_root is None:
        return [], [Unavailable("DnCNN-3", f"no peers folder: set ${PEERS_ENV} or put peers/ beside the data")]
    unavailable: list[Unavailable] = []

    def dncnn() -> Peer:
        path = peers_root / "DnCNN3" / "DnCNN3.mat"
        net = load_dncnn_mat(path)
        note = "one model for JPEG q5-99, Gaussian noise and x2-x4 SR (gray)"
        return Peer(
            "DnCNN-3", "ar", 1, gray_net_method(net), count_params(net), str(path), note, REFERENCES[("DnCNN-3", 1)]
        )

    return _try("DnCNN-3", dncnn, unavailable), unavailable
