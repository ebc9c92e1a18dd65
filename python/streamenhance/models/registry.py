"""Explicit architecture registry: names map to classes, duplicates and unknown names raise."""

from __future__ import annotations

from collections.abc import Callable
from typing import TypeVar

from torch import nn

from streamenhance.errors import WeightsError

ModuleT = TypeVar("ModuleT", bound=type[nn.Module])

_ARCHITECTURES: dict[str, type[nn.Module]] = {}


def register_arch(name: str) -> Callable[[ModuleT], ModuleT]:
    """Class decorator adding an architecture under ``name``."""

    def add(cls: ModuleT) -> ModuleT:
        if name in _ARCHITECTURES:
            raise ValueError(f"architecture {name!r} is already registered ({_ARCHITECTURES[name].__name__})")
        _ARCHITECTURES[name] = cls
        return cls

    return add


def get_arch(name: str) -> type[nn.Module]:
    """The class registered as ``name``; ``WeightsError`` listing the known names otherwise."""
    try:
        return _ARCHITECTURES[name]
    except KeyError:
        known = ", ".join(sorted(_ARCHITECTURES))
        raise WeightsError(f"architecture: expected one of {known}, got {name!r}") from None


def registered_archs() -> tuple[str, ...]:
    return tuple(sorted(_ARCHITECTURES))
