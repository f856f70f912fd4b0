#!/usr/bin/env bash
# The whole test suite from a fresh Debian 12 machine: install the dependencies (and the optional
# tools the tests use), build Release with the tests, run every test with ctest (2 at a time),
# print ctest's summary, and exit non-zero on any failure.
set -euo pipefail
cd "$(dirname "$0")/.."
launch/install_deps.sh --extras
cmake --preset release >/dev/null
cmake --build --preset release -j "$(nproc)"   # every target: the program, tests, helpers
ctest --preset release -j 2
