#!/usr/bin/env bash
# Device check of the fused CUDA SR kernel (csrc/cuda/fused_sr.cu, issue 5): build, tests, sanitizers, timings.
#
# For a machine with an NVIDIA GPU (written for an H100), Python 3.12 with torch (CUDA), cupy, pybind11, pytest,
# CMake and nvcc, and no internet. Run it from the repository root:
#
#     OUT=/some/folder bash scripts/device_check_fused_cuda.sh
#
# (this workplace's device tool: command `bash scripts/device_check_fused_cuda.sh`, carry [".whl"], timeout_s 600;
# $OUT is set there.)
#
# Everything it writes lands in $OUT (default: ./device_check_out), eight files:
#
#   summary.txt         each step's exit status, the GPU, the versions
#   build.log           CMake configure + build of _native for this Python (cp312), CUDA on
#   sass.txt            the fused kernels' registers / shared memory / spills and instruction counts (cuobjdump)
#   tests.log           tests/native/test_fused_sr_cuda.py, test_cuda.py, test_fused_sr.py and
#                       tests/engine/test_fused_engine.py
#   sanitizer.log       compute-sanitizer memcheck, racecheck and synccheck of both tile shapes on a small frame
#   kernel_timings.txt  the kernel alone (CUDA events) per tile shape at 540p, 720p and 1080p input
#   bench_cuda.json     streamenhance bench --tiers tiny --sizes 540p 720p 1080p --devices cuda:0
#   bench_cuda.md       the same as a Markdown table
#
# PyAV (`av`, imported by the tests' conftest) is not on the GPU image: the script installs a wheel from .whl/ when
# the call carries it (made beforehand on a machine with pip: `python3 -m pip download --no-deps --only-binary=:all:
# --python-version 3.12 --implementation cp --platform manylinux_2_28_x86_64 -d .whl av==18.1.0`), else it puts an
# import-only stand-in on PYTHONPATH (these tests decode no video). Where this Python has no headers (Python.h), the
# build uses .whl/python3.12-include when carried (a copy of any CPython 3.12's include/python3.12). Carry `.whl`.
# About 4-6 minutes on an H100 with 16 cores.
set -uo pipefail

OUT=${OUT:-$PWD/device_check_out}
mkdir -p "$OUT"
ROOT=$(pwd)
PY=${PYTHON:-python3}
ARCHS=${STREAMENHANCE_CUDA_ARCHS:-90}
BUILD=${BUILD_DIR:-/tmp/se-device-build}
SUMMARY=$OUT/summary.txt
: >"$SUMMARY"
export PYTHONUNBUFFERED=1 OMP_NUM_THREADS=${OMP_NUM_THREADS:-8}

# The whole script stays within BUDGET seconds (default 540: a 10-minute device call with room to spare): a step gets
# at most what is left, and is skipped when under 20 s are.
BUDGET=${BUDGET:-540}
step() {  # step NAME LOG TIMEOUT_S COMMAND...: runs COMMAND, appends its output to LOG, records its status
  local name=$1 log=$2 limit=$3
  shift 3
  local left=$((BUDGET - SECONDS))
  if [ "$left" -lt 20 ]; then
    echo "$name: skipped (time budget spent)" | tee -a "$SUMMARY"
    return 124
  fi
  [ "$limit" -gt "$left" ] && limit=$left
  local started=$SECONDS
  echo "=== $name: $*" >>"$log"
  timeout "$limit" "$@" >>"$log" 2>&1
  local status=$?
  echo "$name: exit $status ($((SECONDS - started)) s)" | tee -a "$SUMMARY"
  return $status
}

{
  echo "date: $(date -u +%FT%TZ)"
  nvidia-smi --query-gpu=name,driver_version,memory.total --format=csv,noheader 2>&1
  "$PY" -c 'import sys, torch; print("python", sys.version.split()[0], "torch", torch.__version__, torch.version.cuda)'
  nvcc --version | tail -1
} >>"$SUMMARY" 2>&1

# ------------------------------------------------------------------ Python packages the tests import
SITE=/tmp/se-device-site
mkdir -p "$SITE"
if ! "$PY" -c "import av" 2>/dev/null; then
  if ls .whl/av-*.whl >/dev/null 2>&1; then
    "$PY" -m pip install -q --no-index --no-deps --no-compile --no-cache-dir --upgrade --target "$SITE" .whl/av-*.whl \
      >>"$SUMMARY" 2>&1 && echo "av: installed from .whl" >>"$SUMMARY"
  fi
  if ! PYTHONPATH=$SITE "$PY" -c "import av" 2>/dev/null; then
    mkdir -p "$SITE/av"
    printf '"""Import-only stand-in for PyAV (device check: no video is decoded)."""\n' >"$SITE/av/__init__.py"
    printf 'class FFmpegError(Exception):\n    pass\n' >"$SITE/av/error.py"
    echo "av: import-only stand-in (no .whl carried)" >>"$SUMMARY"
  fi
fi
export PYTHONPATH=$ROOT/python:$ROOT:$SITE${PYTHONPATH:+:$PYTHONPATH}

# ------------------------------------------------------------------ 1. build _native for this Python, CUDA on
export CUDACXX=${CUDACXX:-$(command -v nvcc || echo /usr/local/cuda/bin/nvcc)}
rm -f python/streamenhance/_native.cpython-*.so
HEADERS=()
HAS_HEADERS='import os, sys, sysconfig; sys.exit(not os.path.exists(sysconfig.get_paths()["include"] + "/Python.h"))'
if ! "$PY" -c "$HAS_HEADERS" && [ -f .whl/python3.12-include/Python.h ]; then
  HEADERS=(-DPython_INCLUDE_DIR="$ROOT/.whl/python3.12-include")
  echo "Python.h: from .whl/python3.12-include" >>"$SUMMARY"
fi
step configure "$OUT/build.log" 120 cmake -S . -B "$BUILD" -DCMAKE_BUILD_TYPE=Release "${HEADERS[@]}" \
  -DPYBIND11_FINDPYTHON=ON -DPython_EXECUTABLE="$(command -v "$PY")" \
  -Dpybind11_DIR="$("$PY" -m pybind11 --cmakedir)" \
  -DCMAKE_LIBRARY_OUTPUT_DIRECTORY="$ROOT/python/streamenhance" \
  -DSTREAMENHANCE_CUDA=1 -DSTREAMENHANCE_CUDA_ARCHS="$ARCHS" -DSTREAMENHANCE_OBS=OFF
step build "$OUT/build.log" 240 cmake --build "$BUILD" -j "$(nproc)" --target _native --verbose || {
  echo "build failed: see build.log" | tee -a "$SUMMARY"
  exit 1
}
step import "$OUT/build.log" 60 "$PY" -c \
  'from streamenhance import native; print(native.build_info()); assert native.cuda_available(), "no usable GPU"'

# ------------------------------------------------------------------ 2. what the compiler made of the kernel
SO=$(ls python/streamenhance/_native.cpython-*.so | head -1)
{
  echo "--- resource usage (registers, shared memory, stack) per kernel"
  cuobjdump -res-usage "$SO" 2>&1 | grep -A1 fused_sr_kernel
  cuobjdump -sass "$SO" 2>/dev/null | awk '/Function : /{keep = ($0 ~ /fused_sr_kernel/)} keep' >/tmp/fused_sr.sass
  for kernel in 'Tile<32, 16>|TileILi32ELi16E' 'Tile<16, 16>|TileILi16ELi16E'; do
    awk -v pat="$kernel" '/Function : /{keep = ($0 ~ pat)} keep' /tmp/fused_sr.sass >/tmp/one.sass
    echo "--- $kernel: $(grep -c '^ *\/\*[0-9a-f]*\*\/' /tmp/one.sass) instructions"
    for op in 'FFMA' 'FFMA.*c\[0x0\]' 'LDS' 'LDC' 'LDG' 'STS' 'STG' 'STL' 'LDL' 'BAR'; do
      printf '  %-16s %s\n' "$op" "$(grep -cE " $op" /tmp/one.sass)"
    done
  done
} >"$OUT/sass.txt" 2>&1
echo "sass: written" >>"$SUMMARY"

# ------------------------------------------------------------------ 3. tests
step tests "$OUT/tests.log" 300 "$PY" -m pytest -q -rA -p no:cacheprovider \
  tests/native/test_fused_sr_cuda.py tests/native/test_cuda.py tests/native/test_fused_sr.py \
  tests/engine/test_fused_engine.py
grep -E "passed|failed|error" "$OUT/tests.log" | tail -1 >>"$SUMMARY"

# ------------------------------------------------------------------ 4. the kernel alone
cat >/tmp/fused_sr_timing.py <<'EOF'
import torch
from streamenhance import _native, native
from tests.native.test_fused_sr import state_of, tiny_net
packed = native.fused_sr_net(state_of(tiny_net()))
print(torch.cuda.get_device_name(0))
print("input      tile   ms/frame  fps     GMAC/s (5,940 MAC per input pixel, halo recompute not counted)")
for name, (w, h) in {"540p": (960, 540), "720p": (1280, 720), "1080p": (1920, 1080)}.items():
    image = torch.randint(0, 256, (h, w, 3), dtype=torch.uint8, device="cuda")
    out = torch.empty((2 * h, 2 * w, 3), dtype=torch.uint8, device="cuda")
    for tile_width in (32, 16):
        for _ in range(5):
            _native._fused_sr_cuda_kernel(image, packed, out, tile_width)
        start, end = torch.cuda.Event(enable_timing=True), torch.cuda.Event(enable_timing=True)
        start.record()
        for _ in range(50):
            _native._fused_sr_cuda_kernel(image, packed, out, tile_width)
        end.record()
        end.synchronize()
        ms = start.elapsed_time(end) / 50
        print(f"{name:6} {w}x{h:<5} {tile_width}x16  {ms:8.3f}  {1e3 / ms:7.1f}  {5940 * w * h / ms / 1e6:8.1f}")
EOF
step timings "$OUT/kernel_timings.txt" 90 "$PY" /tmp/fused_sr_timing.py

# ------------------------------------------------------------------ 5. bench
step bench "$OUT/summary.txt" 180 "$PY" -m streamenhance.cli.main bench --tiers tiny --sizes 540p 720p 1080p \
  --devices cuda:0 --json "$OUT/bench_cuda.json" --md "$OUT/bench_cuda.md" --no-progress

# ------------------------------------------------------------------ 6. sanitizers, small frame, both tiles
cat >/tmp/fused_sr_small.py <<'EOF'
import torch
from streamenhance import _native, native
from tests.native.test_fused_sr import state_of, tiny_net
packed = native.fused_sr_net(state_of(tiny_net()))
image = torch.randint(0, 256, (37, 53, 4), dtype=torch.uint8, device="cuda")
for tile_width in (16, 32):
    out = torch.zeros((74, 106, 4), dtype=torch.uint8, device="cuda")
    _native._fused_sr_cuda_kernel(image, packed, out, tile_width)
torch.cuda.synchronize()
print("ok")
EOF
for tool in racecheck memcheck synccheck; do
  step "sanitizer-$tool" "$OUT/sanitizer.log" 90 compute-sanitizer --tool "$tool" --error-exitcode 9 \
    --kernel-name kns=fused_sr_kernel "$PY" /tmp/fused_sr_small.py
done

echo "done: $OUT" | tee -a "$SUMMARY"
