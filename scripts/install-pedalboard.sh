#!/usr/bin/env bash
# Installs pedalboard (Spotify's JUCE-based audio library, which hosts VST3 plugins from Python)
# and numpy into a virtual environment, for the pedalboard VST3 host test
# (tests/tests/pedalboard_vst3.rs, which runs tests/pedalboard/render_vst3.py).
#
# The environment goes to $PEDALBOARD_VENV, else target/pedalboard-venv in this repository.
# Needs python3 with its venv module (Debian: python3-venv, scripts/install-system-deps.sh) and
# PyPI. Prints the environment's python. Re-running it is cheap: an environment that already
# imports the pinned pedalboard and numpy is kept.
set -euo pipefail

version="${PEDALBOARD_VERSION:-0.9.21}"
root="$(cd "$(dirname "$0")/.." && pwd)"
venv="${PEDALBOARD_VENV:-$root/target/pedalboard-venv}"
python="$venv/bin/python"
check="import sys, numpy, pedalboard; sys.exit(pedalboard.__version__ != '$version')"

if [ -x "$python" ] && "$python" -c "$check" >/dev/null 2>&1; then
  echo "$python"
  exit 0
fi

fail() {
  echo "install-pedalboard.sh: $*" >&2
  exit 1
}

command -v python3 >/dev/null 2>&1 \
  || fail "python3 not found; install it (apt-get install python3 python3-venv, or scripts/install-system-deps.sh)"
python3 -c 'import venv, ensurepip' >/dev/null 2>&1 \
  || fail "$(command -v python3) has no venv or ensurepip module; install python3-venv (apt-get install python3-venv, or scripts/install-system-deps.sh)"

echo "Installing pedalboard $version and numpy into $venv" >&2
# A half-made environment from an interrupted run is made again.
rm -rf "$venv"
mkdir -p "$(dirname "$venv")"
python3 -m venv "$venv" >&2 || fail "python3 -m venv $venv failed (is python3-venv installed?)"
"$python" -m pip install --quiet --disable-pip-version-check --only-binary=:all: \
  "pedalboard==$version" numpy >&2 \
  || fail "pip could not install pedalboard==$version and numpy from PyPI into $venv (no network, or no wheel of pedalboard $version for python $("$python" -c 'import sys; print(sys.version.split()[0])') on $(uname -m))"
"$python" -c "$check" >&2 \
  || fail "$venv does not import pedalboard $version and numpy after installing them"
echo "$python"
