#!/usr/bin/env bash
# Installs the ONNX Runtime shared library that Counterpart loads at run time.
#
# It takes `libonnxruntime.so.<version>` out of the `onnxruntime` wheel on PyPI (no other download:
# `ort` is built with `load-dynamic`) and puts it into the setup location that Counterpart searches:
#   $COUNTERPART_HOME/onnxruntime, else $XDG_DATA_HOME/counterpart/onnxruntime,
#   else ~/.local/share/counterpart/onnxruntime.
# Prints the library's path. Re-running it is cheap: an installed library is kept.
set -euo pipefail

version="${ORT_VERSION:-1.31.1}"
if [ -n "${COUNTERPART_HOME:-}" ]; then
  dest="$COUNTERPART_HOME/onnxruntime"
else
  dest="${XDG_DATA_HOME:-$HOME/.local/share}/counterpart/onnxruntime"
fi
case "$(uname -s)" in
  Linux) lib="libonnxruntime.so.$version" ;;
  Darwin) lib="libonnxruntime.$version.dylib" ;;
  *) echo "install-onnxruntime.sh: unsupported system $(uname -s); install onnxruntime==$version from PyPI and set ORT_DYLIB_PATH" >&2; exit 1 ;;
esac

if [ -f "$dest/$lib" ]; then
  echo "$dest/$lib"
  exit 0
fi

python=""
for p in python3 python; do
  if command -v "$p" >/dev/null 2>&1; then python="$p"; break; fi
done
if [ -z "$python" ]; then
  echo "install-onnxruntime.sh: python3 with pip is needed to fetch the onnxruntime wheel (apt-get install python3-pip)" >&2
  exit 1
fi

tmp="$(mktemp -d)"
trap 'rm -rf "$tmp"' EXIT
"$python" -m pip download --quiet --no-deps --only-binary=:all: --dest "$tmp/wheel" "onnxruntime==$version" >&2
"$python" -m zipfile -e "$tmp"/wheel/onnxruntime-*.whl "$tmp/x"
src="$(find "$tmp/x" -name "$lib" -print -quit)"
if [ -z "$src" ]; then
  echo "install-onnxruntime.sh: $lib not found in the onnxruntime $version wheel" >&2
  exit 1
fi
mkdir -p "$dest"
cp "$src" "$dest/$lib.tmp"
mv "$dest/$lib.tmp" "$dest/$lib"
echo "$dest/$lib"
