#!/usr/bin/env bash
# Opens the GUI on the sample checkpoint; with no display, says so and prints the CLI report instead.
set -euo pipefail
cd "$(dirname "$0")/.."
build=${QS_BUILD_DIR:-build}
sample=sample_tensors/tiny_llm.safetensors
tensor=model.layers.0.mlp.down_proj.weight

if [ -n "${DISPLAY:-}" ] || [ -n "${WAYLAND_DISPLAY:-}" ]; then
    exec "$build/app/quantscope" "$sample" --tensor "$tensor"
fi
echo "No display (DISPLAY and WAYLAND_DISPLAY are unset): the GUI cannot open here."
echo "Printing 'quantscope-cli inspect $sample' instead."
echo
exec "$build/app/quantscope-cli" inspect "$sample"
