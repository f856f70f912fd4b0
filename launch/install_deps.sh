#!/usr/bin/env bash
# Installs the Debian 12 packages rnn_dist needs to build, test and run.
# Idempotent: packages already present are left alone, and apt-get is not called at all when
# nothing is missing. Works as root or through sudo.
#
#   launch/install_deps.sh            build + test + run dependencies
#   launch/install_deps.sh --extras   also what the test suite uses: matplotlib (history plots),
#                                     python3-protobuf + python3-crc32c (reading --tensorboard files),
#                                     iproute2 + util-linux (simulated hosts: network namespaces,
#                                     tests/cluster), Slurm + munge (a real scheduler, tests/slurm),
#                                     Node.js (tests/interop installs its npm checkers itself)
#   launch/install_deps.sh --reference
#                                     also PyTorch (regenerating the reference fixtures in
#                                     tests/model/reference, the benchmark peer in tests/bench)
#                                     and Intel's oneDNN and libxsmm (the peers of
#                                     tests/bench/bench_onednn and bench_small_gemm)
set -euo pipefail

packages=(
  build-essential cmake pkg-config ca-certificates curl
  libopenmpi-dev openmpi-bin            # MPI: the communicator in comm/
  libeigen3-dev                         # dense linear algebra for the layers
  libprotobuf-dev protobuf-compiler     # checkpoint / prepared-dataset formats in proto/
  libboost-program-options-dev          # the command line
  libgtest-dev googletest               # unit and multi-rank tests
  libbenchmark-dev                      # micro-benchmarks
  zlib1g-dev                            # CRC-32 checksums of prepared files and checkpoints
  libonnx-dev                           # ONNX's protobuf messages and checker (rnn_dist export)
  nlohmann-json3-dev                    # JSON of TensorFlow.js models and the text pipeline
  python3                               # small helper scripts in tests/ and launch/
)
test_packages=(
  python3-matplotlib                    # history plots (launch/plot_history.py, --plot)
  python3-protobuf python3-crc32c       # the independent reader of --tensorboard files (tests/e2e)
  iproute2 util-linux procps psmisc     # simulated hosts: ip netns, veth, tbf; unshare; pgrep
  slurm-wlm slurm-wlm-basic-plugins munge  # slurmctld + slurmd + munged for tests/slurm
  nodejs                                # ONNX Runtime and TensorFlow.js checkers (tests/interop)
)
case "${1:-}" in
  "") ;;
  --extras) packages+=("${test_packages[@]}") ;;
  --reference) packages+=("${test_packages[@]}" python3-torch libdnnl-dev libxsmm-dev) ;;
  *) echo "install_deps: unknown option '$1' (expected --extras or --reference)" >&2; exit 2 ;;
esac

missing=()
for p in "${packages[@]}"; do
  if ! dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed"; then
    missing+=("$p")
  fi
done

if [[ ${#missing[@]} -eq 0 ]]; then
  echo "install_deps: all ${#packages[@]} packages already installed"
  exit 0
fi

if [[ $(id -u) -eq 0 ]]; then
  sudo=()
elif command -v sudo >/dev/null; then
  sudo=(sudo)
else
  echo "install_deps: need root or sudo to install: ${missing[*]}" >&2
  exit 1
fi

echo "install_deps: installing with apt-get: ${missing[*]}"
export DEBIAN_FRONTEND=noninteractive
"${sudo[@]}" apt-get update -qq
"${sudo[@]}" apt-get install -y -qq --no-install-recommends "${missing[@]}"
echo "install_deps: done"
