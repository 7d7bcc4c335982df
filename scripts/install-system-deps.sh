#!/usr/bin/env bash
# Installs the Debian/Ubuntu packages Counterpart builds against. Skips apt when all are present.
#   pkg-config, libx11-dev, libxcb1-dev, libgl-dev: the plugin's editor (X11 + OpenGL, loaded at run time)
#   libasound2-dev, libjack-jackd2-dev: the standalone app (ALSA and JACK)
#   python3, python3-pip: fetching the ONNX Runtime wheel from PyPI
#   xvfb, xauth, x11-utils, imagemagick: rendering the editor to a PNG without a display (cargo xtask screenshot)
#   ardour, sox: the Ardour 7 VST3 host test (tests/tests/ardour_vst3.rs): ardour7-lua drives the bundle, sox converts the guide
#   python3-venv: the pedalboard VST3 host test (tests/tests/pedalboard_vst3.rs): scripts/install-pedalboard.sh makes a virtual environment
set -euo pipefail
packages=(build-essential pkg-config libx11-dev libxcb1-dev libgl-dev libasound2-dev
  libjack-jackd2-dev python3 python3-pip python3-venv xvfb xauth x11-utils imagemagick ardour sox)
missing=()
for p in "${packages[@]}"; do
  dpkg -s "$p" >/dev/null 2>&1 || missing+=("$p")
done
if [ ${#missing[@]} -eq 0 ]; then
  exit 0
fi
if ! command -v apt-get >/dev/null 2>&1; then
  echo "install-system-deps.sh: apt-get not found; install these packages with your package manager: ${missing[*]}" >&2
  exit 1
fi
sudo=""
if [ "$(id -u)" -ne 0 ]; then sudo="sudo"; fi
echo "Installing system packages: ${missing[*]}" >&2
$sudo apt-get update -qq
DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
