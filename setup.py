"""Builds the compiled modules through CMake (the shape of pybind/cmake_example).

Metadata lives in pyproject.toml; this file only drives CMake. Environment:

* ``DEBUG=1``: Debug build type (default Release).
* ``CMAKE_ARGS``: extra arguments for the CMake configure step, passed through unchanged.
* ``STREAMENHANCE_CUDA=auto|0|1`` and ``STREAMENHANCE_CUDA_ARCHS`` (e.g. ``75;86;90``): read by CMakeLists.txt.
* ``CMAKE_BUILD_PARALLEL_LEVEL``: build jobs (default: the CPU count).

One CMake build produces every module of the project into the extension's output folder: ``_native``
always, plus whatever ``csrc/obs/CMakeLists.txt`` adds (``_obs_bridge``) when that folder exists. So both
``pip install .`` and ``pip install -e .`` put them beside ``streamenhance/__init__.py``.
"""

from __future__ import annotations

import os
import shlex
import shutil
import subprocess
import sys
import sysconfig
from pathlib import Path

import pybind11
from setuptools import Extension, setup
from setuptools.command.build_ext import build_ext

ROOT = Path(__file__).resolve().parent


class CMakeExtension(Extension):
    """An extension built by CMake from ``sourcedir`` (no sources for setuptools to compile)."""

    def __init__(self, name: str, sourcedir: str | os.PathLike[str] = "") -> None:
        super().__init__(name, sources=[])
        self.sourcedir = os.fspath(Path(sourcedir).resolve())


class CMakeBuild(build_ext):
    def build_extension(self, ext: Extension) -> None:
        if not isinstance(ext, CMakeExtension):
            super().build_extension(ext)
            return
        # Where setuptools expects the module: the in-tree package for editable installs, the build lib
        # otherwise. Every module CMake builds lands there (CMAKE_LIBRARY_OUTPUT_DIRECTORY).
        ext_fullpath = Path.cwd() / self.get_ext_fullpath(ext.name)
        extdir = ext_fullpath.parent.resolve()

        debug = int(os.environ.get("DEBUG", "0")) if self.debug is None else self.debug
        build_type = "Debug" if debug else "Release"
        cmake_args = [
            f"-DCMAKE_LIBRARY_OUTPUT_DIRECTORY={extdir}{os.sep}",
            f"-DCMAKE_BUILD_TYPE={build_type}",
            "-DPYBIND11_FINDPYTHON=ON",
            f"-DPython_EXECUTABLE={sys.executable}",
            f"-Dpybind11_DIR={pybind11.get_cmake_dir()}",
            f"-DSTREAMENHANCE_VERSION={self.distribution.get_version()}",
        ]
        if "STREAMENHANCE_CUDA" in os.environ:
            cmake_args.append(f"-DSTREAMENHANCE_CUDA={os.environ['STREAMENHANCE_CUDA']}")
        if "STREAMENHANCE_CUDA_ARCHS" in os.environ:
            cmake_args.append(f"-DSTREAMENHANCE_CUDA_ARCHS={os.environ['STREAMENHANCE_CUDA_ARCHS']}")
        cmake_args += shlex.split(os.environ.get("CMAKE_ARGS", ""))

        build_args = ["--config", build_type]
        if "CMAKE_BUILD_PARALLEL_LEVEL" not in os.environ:
            build_args += [f"-j{self.parallel or os.cpu_count() or 1}"]

        build_temp = Path(self.build_temp) / ext.name
        build_temp.mkdir(parents=True, exist_ok=True)
        subprocess.run(["cmake", ext.sourcedir, *cmake_args], cwd=build_temp, check=True)
        # No --target: build every target, so the optional _obs_bridge is built with _native.
        subprocess.run(["cmake", "--build", ".", *build_args], cwd=build_temp, check=True)
        if self.editable_mode:
            self._copy_extra_modules_to_source(extdir, ext_fullpath)

    def _copy_extra_modules_to_source(self, extdir: Path, declared: Path) -> None:
        """Editable installs: setuptools copies only the declared extension back into python/streamenhance;
        put the other modules CMake built into the same folder (a wheel packs all of extdir anyway)."""
        package_dir = Path(self.get_finalized_command("build_py").get_package_dir("streamenhance"))
        suffix = sysconfig.get_config_var("EXT_SUFFIX")
        for module in sorted(extdir.glob(f"*{suffix}")):
            if module.resolve() != declared.resolve():
                shutil.copy2(module, package_dir / module.name)


setup(
    ext_modules=[CMakeExtension("streamenhance._native", sourcedir=ROOT)],
    cmdclass={"build_ext": CMakeBuild},
)
