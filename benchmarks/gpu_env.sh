#!/usr/bin/env bash
# The mmwsss stack on a GPU machine that has CUDA PyTorch but no network (how the GPU rows of
# docs/benchmarks.md were taken). Two steps:
#
#   bash benchmarks/gpu_env.sh fetch DIR      # where pip reaches PyPI: wheels + mmcv source
#   source benchmarks/gpu_env.sh install DIR  # on the GPU machine: installs into /tmp/site,
#                                             # builds mmcv's CUDA ops for its GPU, sets PYTHONPATH
#
# fetch takes wheels for the GPU machine's Python (PYVER, default 3.12) and keeps its torch.
# install builds mmcv 2.1.0 with FORCE_CUDA=1 for the local GPU's architecture only
# (TORCH_CUDA_ARCH_LIST, e.g. 9.0 on an H100), which takes minutes rather than the half hour
# of an all-architecture build. Then: bash benchmarks/gpu_suite.sh OUT.
# fetch is tested; install repeats the steps used for the GPU rows of 2026-11-23 (there mmcv
# was built without CUDA ops) and has not yet run on a GPU in this form.
_gpu_env_fetch() {
  local dir=$1 pyver=${PYVER:-3.12}
  mkdir -p "$dir"
  local plat=(--platform manylinux_2_28_x86_64 --platform manylinux_2_17_x86_64
              --platform manylinux2014_x86_64 --platform manylinux1_x86_64)
  python3 -m pip download -q --no-deps --only-binary=:all: --python-version "$pyver" \
    --implementation cp "${plat[@]}" -d "$dir" \
    mmengine==0.10.7 mmsegmentation==1.2.2 mmdet==3.3.0 segment-anything==1.0 \
    open_clip_torch==3.3.0 ftfy wcwidth addict yapf platformdirs termcolor terminaltables \
    prettytable shapely pycocotools 'transformers==4.57.6' 'huggingface_hub==0.36.2' \
    'tokenizers==0.22.2' 'setuptools==69.5.1' 2>&1 | { grep -v '^WARNING: Location' || true; }
  [ "${PIPESTATUS[0]}" = 0 ] || return 1
  # mmcv's source as published (pip would build its metadata, which needs torch and an old
  # setuptools); checked against the index's sha256
  python3 - "$dir" <<'PYEOF' || return 1
import hashlib, re, sys, urllib.request
html = urllib.request.urlopen('https://pypi.org/simple/mmcv/', timeout=60).read().decode()
url, sha = re.search(r'href="([^"#]*/mmcv-2\.1\.0\.tar\.gz)#sha256=([0-9a-f]+)"', html).groups()
data = urllib.request.urlopen(url, timeout=300).read()
assert hashlib.sha256(data).hexdigest() == sha, f'{url}: sha256 mismatch'
open(f'{sys.argv[1]}/mmcv-2.1.0.tar.gz', 'wb').write(data)
PYEOF
  echo ">> $(ls "$dir" | wc -l) files in $dir ($(du -sh "$dir" | cut -f1))"
}

_gpu_env_install() {
  local dir=$1 site=${SITE:-/tmp/site}
  python3 -m pip install -q --no-index --no-deps --no-compile --no-cache-dir --upgrade \
    --target "$site" "$dir"/*.whl || return 1
  export PYTHONPATH="$site:$PWD${PYTHONPATH:+:$PYTHONPATH}"
  if python3 -c 'import mmcv.ops' 2>/dev/null; then echo ">> mmcv with ops already in $site"; return 0; fi
  local build arch
  build=$(mktemp -d)
  tar -xzf "$dir"/mmcv-2.1.0.tar.gz -C "$build"
  sed -i 's/-std=c++14/-std=c++20/g; s/-std=c++17/-std=c++20/g' "$build/mmcv-2.1.0/setup.py"
  arch=$(python3 -c 'import torch; print("%d.%d" % torch.cuda.get_device_capability())')
  echo ">> building mmcv 2.1.0 with CUDA ops for sm_${arch/./} (a few minutes)"
  (cd "$build/mmcv-2.1.0" && MMCV_WITH_OPS=1 FORCE_CUDA=1 TORCH_CUDA_ARCH_LIST="$arch" \
     MAX_JOBS=${MAX_JOBS:-$(nproc)} python3 setup.py -q build_ext --inplace >"$build/log" 2>&1) \
    || { tail -30 "$build/log"; return 1; }
  cp -r "$build/mmcv-2.1.0/mmcv" "$site/"
  python3 -c 'from mmcv.ops import get_compiling_cuda_version as v; print(">> mmcv CUDA ops:", v())'
}

case ${1:-} in
  fetch) _gpu_env_fetch "${2:?usage: bash benchmarks/gpu_env.sh fetch DIR}" ;;
  install) _gpu_env_install "${2:?usage: source benchmarks/gpu_env.sh install DIR}" ;;
  *) echo "usage: bash benchmarks/gpu_env.sh fetch DIR | source benchmarks/gpu_env.sh install DIR" >&2
     false ;;
esac
