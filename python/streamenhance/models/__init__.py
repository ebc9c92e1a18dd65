"""Architectures, the tier ladder and weight loading. Models know nothing about OBS or streams."""

from __future__ import annotations

from streamenhance.models.archs import ar_net as _ar_net  # noqa: F401  (registers ar_unet)
from streamenhance.models.archs import sr_net as _sr_net  # noqa: F401  (registers sr_rrdb)
from streamenhance.models.archs.ar_net import ARNet
from streamenhance.models.archs.sr_net import SRNet
from streamenhance.models.loading import (
    CatalogEntry,
    build_model,
    catalog,
    choose_ar,
    describe,
    load_model,
    read_spec,
    save_model,
    weights_dir,
)
from streamenhance.models.spec import ModelSpec, SizeRequirements

__all__ = [
    "ARNet",
    "CatalogEntry",
    "ModelSpec",
    "SRNet",
    "SizeRequirements",
    "build_model",
    "catalog",
    "choose_ar",
    "describe",
    "load_model",
    "read_spec",
    "save_model",
    "weights_dir",
]
