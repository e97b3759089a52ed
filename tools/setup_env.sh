#!/usr/bin/env bash
# Create .venv (if absent) and install the mmwsss stack into it.
# The mmcv 2.1.0 wheel with ops is built once per machine from its PyPI source and cached in
# ${MMWSSS_CACHE:-~/.cache/mmwsss}/wheels; later set-ups reuse it.
# GPU users: FORCE_CUDA=1 bash tools/setup_env.sh builds the CUDA ops too (needs nvcc + CUDA torch).
set -euo pipefail
cd "$(dirname "$0")/.."
VENV=${VENV:-.venv}
PY=${PYTHON:-python3}
CACHE=${MMWSSS_CACHE:-${XDG_CACHE_HOME:-$HOME/.cache}/mmwsss}
WHEELS="$CACHE/wheels"
STAMP="$VENV/.mmwsss-stack"
BASE_ID="torch2.14.1-tv0.29.1-mmcv2.1.0-mmseg1.2.2-mmdet3.3.0-v2"
CUDA_OPS=$([ "${FORCE_CUDA:-0}" = 1 ] && echo 1 || true)  # as mmcv's setup.py reads it
STACK_ID="$BASE_ID${CUDA_OPS:+-cuda-ops}"  # FORCE_CUDA=1 on a CPU-ops venv installs the CUDA ops
mkdir -p "$WHEELS"

pip_install() {  # pip install into the venv, without this machine's index-location warnings
  "$VPY" -m pip install "$@" 2>&1 | { grep -v '^WARNING: Location' || true; }
  return "${PIPESTATUS[0]}"
}

need() {  # need CMD "what to install"
  command -v "$1" >/dev/null 2>&1 || { echo "mmwsss setup: '$1' not found. Install $2 and re-run." >&2; exit 1; }
}
need "$PY" "Python 3.11 (python3)"

if [ ! -x "$VENV/bin/python" ]; then
  echo ">> creating $VENV"
  "$PY" -m venv "$VENV"
fi
VPY="$VENV/bin/python"
HAVE=$(cat "$STAMP" 2>/dev/null || true)
# up to date: the same stack, or a CUDA-ops one where CPU ops would do (never downgraded)
if { [ "$HAVE" = "$STACK_ID" ] || [ "$HAVE" = "$BASE_ID-cuda-ops" ]; } && [ -z "${MMWSSS_REINSTALL:-}" ]; then
  pip_install -q --no-deps --no-build-isolation -e . >/dev/null
  echo ">> $VENV is up to date ($HAVE)"
  exit 0
fi

pip_install -q --upgrade pip wheel ninja
echo ">> torch 2.14.1 + torchvision 0.29.1"
pip_install -q torch==2.14.1 torchvision==0.29.1

MMCV_WHEEL=$(ls "$WHEELS"/mmcv-2.1.0-*.whl 2>/dev/null | head -n1 || true)
if [ -n "$CUDA_OPS" ]; then MMCV_WHEEL=$(ls "$WHEELS"/cuda/mmcv-2.1.0-*.whl 2>/dev/null | head -n1 || true); fi
if [ -z "$MMCV_WHEEL" ]; then
  need gcc "a C compiler (Debian: apt-get install build-essential)"
  need g++ "a C++ compiler (Debian: apt-get install g++)"
  "$VPY" - <<'PYEOF' || { echo "mmwsss setup: Python headers (Python.h) missing. Install python3-dev (Debian: apt-get install python3-dev) and re-run." >&2; exit 1; }
import os, sysconfig
assert os.path.exists(os.path.join(sysconfig.get_paths()['include'], 'Python.h'))
PYEOF
  BUILD=$(mktemp -d)
  # mmcv's setup.py imports pkg_resources (gone from setuptools >= 70); torch may have pulled a newer one.
  pip_install -q 'setuptools<70' opencv-python-headless addict packaging pyyaml yapf regex
  echo ">> building mmcv 2.1.0 with ops from source (once per machine; ~15 min on 2 cores)"
  "$VPY" -m pip download -q --no-deps --no-binary :all: --no-build-isolation -d "$BUILD" mmcv==2.1.0
  tar -xzf "$BUILD"/mmcv-2.1.0.tar.gz -C "$BUILD"
  sed -i 's/-std=c++14/-std=c++20/g; s/-std=c++17/-std=c++20/g' "$BUILD/mmcv-2.1.0/setup.py"
  (
    cd "$BUILD/mmcv-2.1.0"
    # ninja prints one [k/N] line per compiled file: that is the progress shown here.
    MMCV_WITH_OPS=1 MAX_JOBS=${MAX_JOBS:-$(nproc)} "$OLDPWD/$VPY" setup.py bdist_wheel 2>&1 \
      | sed -un -e 's#^\[\([0-9]*/[0-9]*\)\].* -c \([^ ]*/\)\?\([^/ ]*\.c[a-z]*\) -o .*#  mmcv build [\1] \3#p' \
                -e '/error/Ip' || true
  )
  built=$(ls "$BUILD"/mmcv-2.1.0/dist/mmcv-2.1.0-*.whl 2>/dev/null | head -n1 || true)
  [ -n "$built" ] || { echo "mmwsss setup: the mmcv build failed (see the errors above; a missing compiler or header is the usual cause)." >&2; exit 1; }
  dest="$WHEELS"; [ -n "$CUDA_OPS" ] && dest="$WHEELS/cuda" && mkdir -p "$dest"
  cp "$built" "$dest/.tmp.whl" && mv "$dest/.tmp.whl" "$dest/$(basename "$built")"
  MMCV_WHEEL="$dest/$(basename "$built")"
  rm -rf "$BUILD"
  echo ">> cached $MMCV_WHEEL"
fi
echo ">> mmcv from $MMCV_WHEEL"
pip_install -q --force-reinstall --no-deps "$MMCV_WHEEL"  # CPU-ops and CUDA-ops wheels share a version
echo ">> mmengine, mmsegmentation, mmdet, extras"
pip_install -q -r requirements.txt
pip_install -q --no-deps --no-build-isolation -e .
"$VPY" -c "import mmcv.ops, mmseg.models, mmdet.models; print('>> stack OK: mmcv', mmcv.__version__)"
echo "$STACK_ID" > "$STAMP"
