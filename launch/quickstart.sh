#!/usr/bin/env bash
# The main job from a fresh Debian 12 machine: install the dependencies, build Release, get IMDB,
# and train the default model (Embedding(10000,32) -> LSTM(32) -> Dense(1), rmsprop, 10 epochs)
# with mpirun on every core. Extra arguments go to rnn_dist, e.g. `launch/quickstart.sh --epochs 2`.
set -euo pipefail
cd "$(dirname "$0")/.."
launch/install_deps.sh
cmake --preset release >/dev/null
# Only the program: the tests, benchmarks and fuzz helpers are launch/test.sh's to build.
cmake --build --preset release -j "$(nproc)" --target rnn_dist
launch/get_imdb.sh data
exec launch/run_local.sh -- --data data/aclImdb "$@"
