#!/usr/bin/env bash
# install_checkers.sh NODE_DIR
# Installs the independent checkers of tests/interop (onnxruntime-node, @tensorflow/tfjs: the
# versions pinned by package-lock.json here) into NODE_DIR/node_modules with `npm ci` from the
# npm registry. Idempotent and quick: does nothing when NODE_DIR holds an install of this very
# package-lock.json (the stamp is written only after npm ci succeeded).
# ONNXRUNTIME_NODE_INSTALL=skip: onnxruntime-node's install script would otherwise try to
# download CUDA libraries; its CPU binding ships inside the npm package.
set -euo pipefail
src=$(cd "$(dirname "$0")" && pwd)
dir=${1:?usage: install_checkers.sh NODE_DIR}
stamp=$dir/installed-package-lock.json
if [[ -d $dir/node_modules ]] && cmp -s "$src/package-lock.json" "$stamp"; then
  echo "install_checkers: $dir is up to date"
  exit 0
fi
command -v npm >/dev/null || { echo "install_checkers: npm is missing (launch/install_deps.sh --extras installs nodejs)" >&2; exit 1; }
mkdir -p "$dir"
rm -f "$stamp"
cp "$src/package.json" "$src/package-lock.json" "$dir/"
(cd "$dir" && ONNXRUNTIME_NODE_INSTALL=skip npm ci --no-audit --no-fund --loglevel=error)
cp "$src/package-lock.json" "$stamp"
echo "install_checkers: installed $(cd "$dir" && node -p "require('onnxruntime-node/package.json').version + ' ' + require('@tensorflow/tfjs/package.json').version" | sed 's/^/onnxruntime-node \/ tfjs: /')"
