"""The native resize reproduces genuine MATLAB imresize output (Set5 / Set14 LR_bicubic) bit for bit."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from streamenhance import native


@pytest.mark.data
@pytest.mark.parametrize("set_name", ["Set5", "Set14"])
@pytest.mark.parametrize("scale", [2, 3, 4])
def test_matlab_bicubic_downscale_is_bit_exact(data_root: Path, set_name: str, scale: int) -> None:
    folder = data_root / "eval" / set_name
    if not (folder / "HR").is_dir():
        pytest.skip(f"{folder} not present")
    names = sorted(path.stem for path in (folder / "HR").glob("*.png"))
    assert names
    for name in names:
        hr = np.asarray(Image.open(folder / "HR" / f"{name}.png"))  # RGB (H, W, 3) or gray (H, W)
        height, width = hr.shape[0] - hr.shape[0] % scale, hr.shape[1] - hr.shape[1] % scale
        lr = native.resize(hr[:height, :width], (height // scale, width // scale))  # modcrop as a strided view
        expected = np.asarray(Image.open(folder / "LR_bicubic" / f"X{scale}" / f"{name}x{scale}.png"))
        assert lr.shape == expected.shape, name
        np.testing.assert_array_equal(lr, expected, err_msg=f"{set_name}/{name} x{scale}")
