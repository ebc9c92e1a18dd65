"""Peers: PAN reproduces its paper, SRVGG / DnCNN / OpenCV load and measure as documented, missing ones are listed."""

from __future__ import annotations

import sys
from pathlib import Path

import numpy as np
import pytest
import torch

from streamenhance import native
from streamenhance.errors import WeightsError
from streamenhance.evaluation.jpeg import classic5_images, decoded_method, evaluate_jpeg
from streamenhance.evaluation.peer_nets import PAN
from streamenhance.evaluation.peers import (
    ar_peers,
    count_params,
    load_dncnn_mat,
    load_pan,
    load_pth_state,
    load_srvgg,
    opencv_method,
    rgb_net_method,
    sr_peers,
)
from streamenhance.evaluation.protocol import NamedMethod, evaluate, modcrop, set_images
from streamenhance.metrics import psnr
from tests.evaluation.conftest import textured


def test_pth_loader_unwraps_params_ema_first(tmp_path: Path) -> None:
    state = {"w": torch.ones(2)}
    torch.save({"params": {"w": torch.zeros(2)}, "params_ema": state}, tmp_path / "m.pth")
    assert torch.equal(load_pth_state(tmp_path / "m.pth")["w"], torch.ones(2))
    torch.save({"params": state}, tmp_path / "p.pth")
    assert torch.equal(load_pth_state(tmp_path / "p.pth")["w"], torch.ones(2))


class _Payload:
    """Stands for an arbitrary pickled object: weights_only loading must refuse it."""


def test_pth_loader_never_unpickles_objects(tmp_path: Path) -> None:
    torch.save({"w": _Payload()}, tmp_path / "evil.pth")
    with pytest.raises(WeightsError, match="unreadable"):
        load_pth_state(tmp_path / "evil.pth")
    with pytest.raises(WeightsError, match="not found"):
        load_pth_state(tmp_path / "missing.pth")


def test_pan_rejects_a_state_dict_of_another_shape(tmp_path: Path) -> None:
    state = PAN(2).state_dict()
    del state["conv_last.bias"]
    torch.save(state, tmp_path / "bad.pth")
    with pytest.raises(WeightsError, match="do not match PAN"):
        load_pan(tmp_path / "bad.pth", 2)


def test_pan_params_match_the_paper(peers_root: Path) -> None:
    """PAN x2 is 261k parameters in its paper; the port loads the released files strictly."""
    assert count_params(load_pan(peers_root / "PAN" / "PANx2_DF2K.pth", 2)) == 261_403
    x4 = load_pan(peers_root / "PAN" / "PANx4_DF2K.pth", 4)
    assert count_params(x4) == 272_419
    out = rgb_net_method(x4)(textured(12, 10), (48, 40))
    assert out.shape == (48, 40, 3) and out.dtype == np.uint8


@pytest.mark.data
@pytest.mark.slow
def test_pan_reproduces_its_published_set5_x2(data_root: Path, peers_root: Path) -> None:
    """Published PAN x2 Set5 = 38.00 dB (MATLAB-bicubic protocol, Y, shave 2)."""
    method = rgb_net_method(load_pan(peers_root / "PAN" / "PANx2_DF2K.pth", 2))
    result = evaluate(method, "PAN", set_images(data_root, "Set5"), "Set5", 2)
    assert result.psnr_y == pytest.approx(38.00, abs=0.1)
    assert result.ssim_y > 0.95


def test_srvgg_loads_and_produces_x4(peers_root: Path) -> None:
    net = load_srvgg(peers_root / "realesr_animevideov3" / "realesr-animevideov3.pth")
    assert count_params(net) == 621_424
    lr = textured(16, 20)
    out = rgb_net_method(net)(lr, (64, 80))
    assert out.shape == (64, 80, 3) and out.dtype == np.uint8
    # A flat picture stays flat: the residual of the nearest-upsampled base is small there.
    flat = rgb_net_method(net)(np.full((16, 16, 3), 128, np.uint8), (64, 64))
    assert np.abs(flat[8:-8, 8:-8].astype(int) - 128).max() <= 8


@pytest.mark.data
def test_srvgg_beats_its_nearest_base_on_a_photo(data_root: Path, peers_root: Path) -> None:
    net = load_srvgg(peers_root / "realesr_animevideov3" / "realesr-animevideov3.pth")
    hr = modcrop(dict(set_images(data_root, "Set5"))["bird"], 4)
    lr = native.resize(hr, (hr.shape[0] // 4, hr.shape[1] // 4))
    nearest = np.repeat(np.repeat(lr, 4, axis=0), 4, axis=1)
    assert psnr(rgb_net_method(net)(lr, hr.shape[:2]), hr, border=4) > psnr(nearest, hr, border=4) + 1.0


def test_missing_peer_files_are_listed_with_reasons(tmp_path: Path) -> None:
    peers, missing = sr_peers(tmp_path, 4)
    assert peers == []
    reasons = {m.name: m.reason for m in missing}
    assert "not found" in reasons["PAN x4"] and "PANx4_DF2K.pth" in reasons["PAN x4"]
    assert "realesr-animevideov3.pth" in reasons["realesr-animevideov3 x4"]
    assert {"OpenCV ESPCN x4", "OpenCV FSRCNN x4", "OpenCV FSRCNN-small x4"} <= set(reasons)
    assert "OpenCV LapSRN x4" not in reasons  # LapSRN is released at x2 only: nothing is missing
    _, no_root = sr_peers(None, 2)
    assert "no peers folder" in no_root[0].reason


def test_missing_opencv_package_is_a_reason_not_a_crash(peers_root: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setitem(sys.modules, "cv2", None)  # makes `import cv2` raise ModuleNotFoundError
    peers, missing = sr_peers(peers_root, 2)
    assert "OpenCV" not in " ".join(p.name for p in peers)
    assert "PAN" in [p.name for p in peers]
    reason = {m.name: m.reason for m in missing}["OpenCV FSRCNN x2"]
    assert "opencv-contrib-python-headless" in reason


def test_opencv_peers_upsample_and_count_params(peers_root: Path) -> None:
    pytest.importorskip("cv2")
    folder = peers_root / "opencv_dnn_superres"
    method, params = opencv_method(folder / "FSRCNN_x2.pb", "FSRCNN", 2)
    out = method(textured(20, 24), (40, 48))
    assert out.shape == (40, 48, 3) and out.dtype == np.uint8
    gray = method(textured(20, 24)[:, :, 0], (40, 48))
    assert gray.shape == (40, 48)
    assert params == 8_496
    # ESPCN (Shi et al.): 5x5x64, 3x3x32, 3x3 x s^2 sub-pixel layer.
    assert opencv_method(folder / "ESPCN_x4.pb", "ESPCN", 4)[1] == 24_752
    assert opencv_method(folder / "ESPCN_x2.pb", "ESPCN", 2)[1] == 21_284


@pytest.mark.data
@pytest.mark.parametrize(("model", "expected"), [("ESPCN", 34.76), ("FSRCNN", 34.85), ("FSRCNN-small", 34.49)])
def test_opencv_peers_match_the_protocol_doc_on_set5_x2(
    data_root: Path, peers_root: Path, model: str, expected: float
) -> None:
    """EVAL_PROTOCOL.md: OpenCV's models were trained on a non-antialiased downscaler and measure this low."""
    pytest.importorskip("cv2")
    method, _ = opencv_method(peers_root / "opencv_dnn_superres" / f"{model}_x2.pb", model, 2)
    assert evaluate(method, model, set_images(data_root, "Set5"), "Set5", 2).psnr_y == pytest.approx(expected, abs=0.02)


def test_dncnn_mat_loads(peers_root: Path) -> None:
    pytest.importorskip("h5py")
    net = load_dncnn_mat(peers_root / "DnCNN3" / "DnCNN3.mat")
    assert count_params(net) == 665_921  # 20 convs of 3x3: 1->64, 18 x 64->64, 64->1, with biases
    peers, missing = ar_peers(peers_root)
    assert [p.name for p in peers] == ["DnCNN-3"] and missing == []
    out = peers[0].method(textured(24, 24)[:, :, 0], (24, 24))
    assert out.shape == (24, 24) and out.dtype == np.uint8


@pytest.mark.data
@pytest.mark.slow
def test_dncnn3_reproduces_its_classic5_q10(data_root: Path, peers_root: Path) -> None:
    """DnCNN-3 paper: Classic5 JPEG q10 = 29.40 dB (JPEG itself 27.82)."""
    pytest.importorskip("h5py")
    (dncnn,), _ = ar_peers(peers_root)
    methods = [NamedMethod("JPEG", "baseline", decoded_method), dncnn.named()]
    jpeg, restored = evaluate_jpeg(methods, classic5_images(data_root), [10])
    assert round(jpeg.psnr, 2) == 27.82
    assert restored.psnr == pytest.approx(29.40, abs=0.05)
