"""native.fused_sr (the whole tiny SR network in one CPU kernel) against the PyTorch fp32 reference, and its
boundary errors. Every ISA the machine runs is checked; sizes cover 1-pixel frames, tile edges and sizes that are
not multiples of the tile or vector width."""

from __future__ import annotations

from collections.abc import Callable, Iterator

import numpy as np
import pytest
import torch

from streamenhance import native
from streamenhance.errors import ConfigError, FrameFormatError, FrameTypeError, WeightsError
from streamenhance.models import SRNet
from streamenhance.models.tiers import SR_LADDER
from streamenhance.native import reference

ISAS = [pytest.param(isa, marks=pytest.mark.skipif(isa not in native.fused_sr_isas(), reason=f"no {isa} here"))
        for isa in ("generic", "avx2", "avx512")]
# 1-pixel frames, odd sizes, and frames spanning two tile columns (tiles are at most 512 wide) and several
# bands of rows.
SIZES = [(1, 1), (1, 9), (9, 1), (2, 3), (17, 29), (36, 64), (45, 530)]


def tiny_net(seed: int = 0, noise: float = 0.01) -> SRNet:
    """A tiny x2 SRNet whose random residual moves pixels by about 28 levels on average (and clips about 5 %)."""
    torch.manual_seed(seed)
    net = SRNet(scale=2, **SR_LADDER["tiny"]).eval()
    with torch.no_grad():
        for parameter in net.parameters():
            parameter.add_(torch.randn_like(parameter) * noise)
    return net


def state_of(net: torch.nn.Module) -> dict[str, np.ndarray]:
    return {name: value.detach().numpy().copy() for name, value in net.state_dict().items()}


def torch_reference(net: SRNet, frame: np.ndarray) -> np.ndarray:
    """bgr_to_planar -> SRNet.forward (bicubic base + residual) -> planar_to_bgr, in PyTorch fp32."""
    with torch.no_grad():
        out = net(torch.from_numpy(reference.bgr_to_planar(frame[..., :3]))).numpy()
    return reference.planar_to_bgr(out)


def frame(rng: np.random.Generator, height: int, width: int, channels: int = 3) -> np.ndarray:
    return rng.integers(0, 256, (height, width, channels), dtype=np.uint8)


@pytest.fixture
def threads() -> Iterator[Callable[[int], None]]:
    """Set the native thread count for one test, restored afterwards."""
    before = native.get_num_threads()
    yield native.set_num_threads
    native.set_num_threads(before)


def test_the_kernel_runs_the_ladder_tiny_x2_shape() -> None:
    """The engine sends tier tiny x2 to the fused kernel: were the shapes to differ, tiny would silently fall back to
    the much slower PyTorch path."""
    assert native.fused_sr_shape() == {"scale": 2, **SR_LADDER["tiny"]}


# ------------------------------------------------------------------ against the PyTorch reference


@pytest.mark.parametrize("isa", ISAS)
@pytest.mark.parametrize("size", SIZES)
def test_matches_the_torch_reference_within_one_level(isa: str, size: tuple[int, int], rng) -> None:
    net = tiny_net()
    packed = native.fused_sr_net(state_of(net), isa=isa)
    assert packed.isa == isa
    image = frame(rng, *size)
    out = native.fused_sr(image, packed)
    expected = torch_reference(net, image)
    assert out.shape == expected.shape == (2 * size[0], 2 * size[1], 3) and out.dtype == np.uint8
    diff = np.abs(out.astype(int) - expected.astype(int))
    assert diff.max() <= 1
    assert (diff > 0).mean() < 0.01  # fp32 rounding differences, not a systematic error


@pytest.mark.parametrize("isa", ISAS)
@pytest.mark.parametrize("size", [(1, 1), (2, 3), (37, 53), (64, 48)])
def test_zero_residual_is_exactly_matlab_bicubic(isa: str, size: tuple[int, int], rng) -> None:
    """The base is summed exactly, like the reference's float64 resize: bit-identical output."""
    net = tiny_net()
    with torch.no_grad():
        net.conv_up.weight.zero_()
        net.conv_up.bias.zero_()
    image = frame(rng, *size)
    out = native.fused_sr(image, native.fused_sr_net(state_of(net), isa=isa))
    planar = reference.bgr_to_planar(image)
    np.testing.assert_array_equal(out, reference.planar_to_bgr(reference.resize(planar, (2 * size[0], 2 * size[1]))))


def test_isas_agree_within_one_level_and_auto_is_the_fastest(rng) -> None:
    assert native.fused_sr_isas()[-1] == "generic"
    state = state_of(tiny_net(seed=3))
    assert native.fused_sr_net(state).isa == native.fused_sr_isas()[0]
    image = frame(rng, 40, 70)
    outputs = [native.fused_sr(image, native.fused_sr_net(state, isa=isa)) for isa in native.fused_sr_isas()]
    for other in outputs[1:]:
        assert np.abs(other.astype(int) - outputs[0].astype(int)).max() <= 1


def test_torch_tensors_and_channels_last_weights_pack_like_numpy(rng) -> None:
    net = tiny_net().to(memory_format=torch.channels_last)  # strided weights: packed from a contiguous copy
    image = frame(rng, 20, 30)
    from_tensors = native.fused_sr(image, native.fused_sr_net(net.state_dict()))
    contiguous = {name: value.contiguous().numpy() for name, value in net.state_dict().items()}
    from_numpy = native.fused_sr(image, native.fused_sr_net(contiguous))
    np.testing.assert_array_equal(from_tensors, from_numpy)


# ------------------------------------------------------------------ layouts and threads


def test_bgra_in_and_out(rng) -> None:
    packed = native.fused_sr_net(state_of(tiny_net()))
    image = frame(rng, 13, 22, channels=4)
    out = native.fused_sr(image, packed)
    assert out.shape == (26, 44, 4)
    assert (out[..., 3] == 255).all()
    np.testing.assert_array_equal(out[..., :3], native.fused_sr(np.ascontiguousarray(image[..., :3]), packed))


def test_padded_rows_in_and_out(rng, padded) -> None:
    packed = native.fused_sr_net(state_of(tiny_net()))
    image = frame(rng, 19, 27)
    out = padded(np.zeros((38, 54, 3), np.uint8), 7)
    native.fused_sr(padded(image), packed, out=out)
    np.testing.assert_array_equal(out, native.fused_sr(image, packed))


@pytest.mark.parametrize("isa", ISAS)
def test_result_does_not_depend_on_the_thread_count(isa: str, rng, threads) -> None:
    packed = native.fused_sr_net(state_of(tiny_net(seed=5)), isa=isa)
    image = frame(rng, 150, 530)  # several tiles at every thread count
    results = []
    for count in (1, 2, 3, 8):
        threads(count)
        results.append(native.fused_sr(image, packed))
    for other in results[1:]:
        np.testing.assert_array_equal(other, results[0])


# ------------------------------------------------------------------ boundary errors


def packed_net() -> object:
    return native.fused_sr_net(state_of(tiny_net()))


@pytest.mark.parametrize(
    ("make", "error", "fragment"),
    [
        (lambda: np.zeros((4, 5, 3), np.float32), FrameTypeError, "expected uint8 (H, W, 3|4) BGR frame, got float32"),
        (lambda: np.zeros((4, 5, 2), np.uint8), FrameFormatError, "got uint8 (4, 5, 2)"),
        (lambda: np.zeros((4, 5), np.uint8), FrameFormatError, "got uint8 (4, 5)"),
        (lambda: np.zeros((4, 10, 3), np.uint8)[:, ::2], FrameFormatError, "expected contiguous pixels"),
        (lambda: np.zeros((0, 5, 3), np.uint8), FrameFormatError, "expected a non-empty"),
        (lambda: np.zeros((8193, 1, 3), np.uint8), FrameFormatError, "MAX_SIDE"),
        (lambda: [[0, 0, 0]], FrameTypeError, "expected a numpy.ndarray"),
    ],
)
def test_bad_frames(make: Callable[[], object], error: type, fragment: str) -> None:
    with pytest.raises(error, match=fragment.replace("(", r"\(").replace(")", r"\)").replace("|", r"\|")):
        native.fused_sr(make(), packed_net())


@pytest.mark.parametrize(
    ("out", "fragment"),
    [
        (np.zeros((8, 10, 3), np.uint8), r"expected shape \(8, 12, 3\)"),
        (np.zeros((8, 12, 3), np.float32), "expected uint8"),
        (np.zeros((8, 12, 3), np.uint8)[::-1], "non-negative strides"),
    ],
)
def test_bad_outputs(out: np.ndarray, fragment: str) -> None:
    with pytest.raises((FrameFormatError, FrameTypeError), match=fragment):
        native.fused_sr(np.zeros((4, 6, 3), np.uint8), packed_net(), out=out)


def test_read_only_and_overlapping_outputs() -> None:
    out = np.zeros((8, 12, 3), np.uint8)
    out.flags.writeable = False
    with pytest.raises(FrameFormatError, match="writable"):
        native.fused_sr(np.zeros((4, 6, 3), np.uint8), packed_net(), out=out)
    buffer = np.zeros((8, 12, 3), np.uint8)
    with pytest.raises(FrameFormatError, match="overlaps"):
        native.fused_sr(buffer[:4, :6], packed_net(), out=buffer)


def test_not_a_packed_network() -> None:
    with pytest.raises(FrameTypeError):
        native.fused_sr(np.zeros((4, 6, 3), np.uint8), {"conv_first.weight": None})


@pytest.mark.parametrize(
    ("edit", "fragment"),
    [
        (lambda s: s.pop("conv_up.bias"), "'conv_up.bias' is missing"),
        (lambda s: s.update({"trunk.1.blocks.0.convs.0.weight": np.zeros((8, 12, 3, 3), np.float32)}),
         "unexpected 'trunk.1.blocks.0.convs.0.weight'"),
        (lambda s: s.update({"conv_up.weight": np.zeros((48, 16, 3, 3), np.float32)}),  # x4
         r"expected float32 \(12, 16, 3, 3\), got float32 \(48, 16, 3, 3\)"),
        (lambda s: s.update({"conv_first.bias": s["conv_first.bias"].astype(np.float64)}), "got float64"),
        (lambda s: s.update({"conv_body.weight": [[0.0]]}), "expected a float32 numpy.ndarray"),
    ],
)
def test_unsupported_weights(edit: Callable[[dict[str, np.ndarray]], object], fragment: str) -> None:
    state = state_of(tiny_net())
    edit(state)
    with pytest.raises(WeightsError, match=fragment):
        native.fused_sr_net(state)


@pytest.mark.parametrize("tier", ["small", "medium"])
def test_other_tiers_are_rejected_naming_the_supported_shape(tier: str) -> None:
    net = SRNet(scale=2, **SR_LADDER[tier])
    with pytest.raises(WeightsError, match="runs SRNet tier tiny x2"):
        native.fused_sr_net(state_of(net))


def test_bad_isa() -> None:
    with pytest.raises(ConfigError, match="isa: expected one of auto, avx512, avx2, generic"):
        native.fused_sr_net(state_of(tiny_net()), isa="sse9")  # type: ignore[arg-type]
