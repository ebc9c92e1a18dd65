#!/usr/bin/env bash
# Installs what the OBS end-to-end tests need (Debian 12): OBS Studio 29 + libobs headers (for the
# _obs_bridge module), Xvfb, Mesa software GL (llvmpipe), and the tools the harness calls
# (unshare/ip from util-linux/iproute2, ss, xdpyinfo). Idempotent and quiet: does nothing when all are present.
set -euo pipefail

PACKAGES=(obs-studio obs-plugins libobs-dev xvfb x11-utils xauth libgl1-mesa-dri libegl-mesa0 mesa-utils
          iproute2 util-linux pkg-config python3 libpython3.11)

missing=()
for pkg in "${PACKAGES[@]}"; do
    status=$(dpkg-query -W -f='${Status}' "$pkg" 2>/dev/null || true)
    [[ "$status" == "install ok installed" ]] || missing+=("$pkg")
done
if ((${#missing[@]} == 0)); then
    exit 0
fi

SUDO=""
if [[ $(id -u) -ne 0 ]]; then
    command -v sudo >/dev/null || { echo "setup_obs.sh: need root (or sudo) to install: ${missing[*]}" >&2; exit 1; }
    SUDO="sudo"
fi
export DEBIAN_FRONTEND=noninteractive
echo "setup_obs.sh: installing ${missing[*]}"
$SUDO apt-get update -qq
$SUDO apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
