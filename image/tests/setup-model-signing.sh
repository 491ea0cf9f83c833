#!/bin/sh
# Install the Python reference, model_signing 1.1.1, into a venv for the interop tests
# (image/tests/oms_interop.rs) and the benchmarks. Idempotent: a venv that already has it is
# left alone. Prints the venv's bin directory on its last line.
set -eu

VENV="${SEALRUN_MODEL_SIGNING_VENV:-$HOME/.cache/sealrun-venv}"
VERSION=1.1.1

if [ -x "$VENV/bin/model_signing" ] &&
   "$VENV/bin/python" -c "import importlib.metadata as m, sys; sys.exit(m.version('model-signing') != '$VERSION')" 2>/dev/null &&
   "$VENV/bin/python" -c "import OpenSSL" 2>/dev/null; then
    echo "$VENV/bin"
    exit 0
fi

mkdir -p "$(dirname "$VENV")"
# A lock, so parallel test binaries do not build the same venv at once.
exec 9>"$VENV.lock"
flock 9
if ! [ -x "$VENV/bin/python" ]; then
    python3 -m venv "$VENV"
fi
"$VENV/bin/python" -m pip install --quiet --disable-pip-version-check "model-signing==$VERSION" pyopenssl >&2
"$VENV/bin/model_signing" --version >&2
echo "$VENV/bin"
