#!/usr/bin/env bash
# groot's main job on its built-in default: build, synthesize the tiny model
# (RANDOM weights) if it is not there yet, and compute the next 16 actions of a
# Fourier GR-1 (arms only) from the bundled camera frame, a joint state and an
# instruction, printing the actions per key and the time of each stage.
# Extra arguments go to `groot run` (e.g. --device cuda --json).
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/deps.sh
cmake -S . -B build -G Ninja -DCMAKE_BUILD_TYPE=Release >/dev/null
cmake --build build >/dev/null
model=.groot/tiny
[ -f "$model/config.json" ] || build/groot synth --preset tiny --seed 1 --out "$model"
echo "NOTE: the default model has RANDOM weights (groot synth): its actions show the pipeline" \
     "working end to end, not a trained policy. Point --model at a released GR00T N1.5 checkpoint" \
     "for real actions."
exec build/groot run --model "$model" --data-config fourier_gr1_arms_only --embodiment gr1 \
  --image video.ego_view=assets/sample_ego_view.png \
  --state state.left_arm=0.1,-0.2,0.3,-0.4,0.5,-0.1,0.2 \
  --state state.right_arm=-0.1,0.2,-0.3,0.4,-0.5,0.1,-0.2 \
  --state state.left_hand=0.0,0.1,0.2,0.3,0.4,0.5 \
  --state state.right_hand=0.5,0.4,0.3,0.2,0.1,0.0 \
  --instruction "pick the pear from the counter and place it in the plate" --seed 0 "$@"
