#!/usr/bin/env bash
# Sets up a fresh Debian/Ubuntu machine and does Counterpart's main job:
#   1. system packages (apt), 2. a Rust toolchain if there is none (rustup),
#   3. ONNX Runtime from the onnxruntime wheel on PyPI, 4. the release bundles (CLAP, VST3,
#   standalone) and the `counterpart` command, 5. a demo: the default preset answers a guide
#   melody it never trained on (demo/guide.flac) with demo/out.wav, and demo/mix.wav puts the
#   guide on the left and the answer on the right, 6. prints where everything is.
set -euo pipefail
cd "$(dirname "$0")"

# Each step says how long it took (on stderr).
step_started=$SECONDS
step() {
  echo "== $* (step took $((SECONDS - step_started)) s; $SECONDS s in all)" >&2
  step_started=$SECONDS
}

bash scripts/install-system-deps.sh
step "system packages"

if ! command -v cargo >/dev/null 2>&1; then
  if [ -x "$HOME/.cargo/bin/cargo" ]; then
    export PATH="$HOME/.cargo/bin:$PATH"
  else
    echo "Installing the Rust toolchain with rustup (https://rustup.rs)" >&2
    curl --proto '=https' --tlsv1.2 -sSf https://sh.rustup.rs | sh -s -- -y --profile minimal
    export PATH="$HOME/.cargo/bin:$PATH"
  fi
fi

step "Rust toolchain"

ort="$(bash scripts/install-onnxruntime.sh)"
echo "ONNX Runtime: $ort" >&2
step "ONNX Runtime"

# One release build for the bundles and the CLI: their shared dependencies compile once.
cargo xtask release
step "release build (bundles and CLI)"

target/release/counterpart render --preset models/presets/default.cpreset \
  --guide demo/guide.flac -o demo/out.wav --mix demo/mix.wav --seed 1 \
  --segments-out demo/segments.csv
step "demo render"

echo
echo "Counterpart is built:"
echo "  CLAP plugin:     $(pwd)/target/bundled/Counterpart.clap"
echo "  VST3 plugin:     $(pwd)/target/bundled/Counterpart.vst3"
echo "  Standalone app:  $(pwd)/target/bundled/Counterpart Standalone"
echo "  ONNX Runtime:    $(pwd)/target/bundled/$(basename "$ort") (copied into the bundles)"
echo "  CLI:             $(pwd)/target/release/counterpart"
echo "Demo (default preset, guide never seen in training):"
echo "  companion:       $(pwd)/demo/out.wav"
echo "  guide | companion stereo mix: $(pwd)/demo/mix.wav"
echo "  segments played: $(pwd)/demo/segments.csv"
echo "Install into your DAW: see \"Installing the plugin\" in README.md."
