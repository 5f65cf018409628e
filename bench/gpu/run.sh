#!/usr/bin/env bash
# One prepared run on a machine with an NVIDIA GPU and no Node.js or registry (the device tool's
# H200), from the folder bench/gpu/pack.sh made; under 8 minutes by default, each step with its
# own time limit inside a global budget so one failing step cannot eat the machine:
#   unpack     node, dawn.node (as node_modules/webgpu), the Vulkan loader where the machine lacks it
#   adapter    which adapter Dawn gets; on a GPU machine tries each NVIDIA ICD JSON until one works
#   check      the GPU test subset (bench/gpu/check.ts): kernels vs CPU reference at odd shapes for
#              every strategy, one fixture per architecture with each matmul strategy
#   forward    full-size NeoBERT (random weights), f32 and f16 weights, seq 128/512/4096 x batch 8/1
#   torch      PyTorch's reference model (bench/peers/neobert_torch.py), fp16 on CUDA, same points,
#              and cuBLAS matmul GFLOP/s (skipped, recorded, where python3 has no torch with CUDA)
#   attention  attention kernels at L = 128, 512, 4096 (bench/attention.ts)
#   matmul     GFLOP/s per shape and kernel strategy (bench/matmul.ts, production + kernels/dev)
#   report     RESULTS/<gpu>-<date>.json (bench/results' format + every step's status) and .svg
#
#   bench/gpu/run.sh [--local] [--quick] [--pack DIR] [--results-dir DIR] [--budget-s S] [--work DIR]
#                    [--limit STEP=S]... [--skip STEP[,STEP]] [--no-limits]
#     --local        the same steps on this machine's adapter (lavapipe) at small sizes, results in
#                    the work folder unless --results-dir; rehearses the packed node/dawn/loader too
#     --quick        smaller still (the test's setting)
#     --results-dir  default bench/results (GPU) or WORK/results (--local); on the device tool: $OUT
#     --budget-s     whole run, default 450 (GPU), 240 (--local), 100 (--local --quick)
#     --allow-cpu-adapter  GPU sizes on whatever adapter is found (rehearses the budget and the
#                    time limits here: steps time out, partial results are kept, the report runs)
#     --limit STEP=S a step's own time limit in seconds instead of its default (repeatable)
#     --skip STEPS   record these steps (comma-separated) as skipped without running them
#     --no-limits    no step limits and no budget: every step runs to its end (a rehearsal on a
#                    busy machine, where the limits sized for the GPU machine mean nothing;
#                    test/gpu-bench.test.ts runs --local --quick this way)
# Exit 0 when every step that ran passed, 1 otherwise; the JSON says which.
set -u
ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)
MODE=gpu
QUICK=0
PACK=$ROOT/bench/gpu/pack
RESULTS=
BUDGET=
WORK=
REQUIRE_GPU=1
LIMITS=
SKIP=,
NO_LIMITS=0
while [ $# -gt 0 ]; do
  case "$1" in
    --local) MODE=local; shift ;;
    --quick) QUICK=1; shift ;;
    --pack) PACK=$(realpath -m "$2"); shift 2 ;;
    --results-dir) RESULTS=$(realpath -m "$2"); shift 2 ;;
    --budget-s) BUDGET=$2; shift 2 ;;
    --work) WORK=$(realpath -m "$2"); shift 2 ;;
    --allow-cpu-adapter) REQUIRE_GPU=0; shift ;;
    --limit) LIMITS="$LIMITS ${2%%=*}=${2#*=}"; shift 2 ;;
    --skip) SKIP=",$2,"; shift 2 ;;
    --no-limits) NO_LIMITS=1; shift ;;
    -h|--help) sed -n '2,30p' "$0"; exit 0 ;;
    *) echo "run.sh: unknown argument $1" >&2; exit 2 ;;
  esac
done
[ $MODE = local ] && REQUIRE_GPU=0
if [ -z "$BUDGET" ]; then
  if [ $MODE = gpu ]; then BUDGET=450; elif [ $QUICK = 1 ]; then BUDGET=100; else BUDGET=240; fi
fi
WORK=${WORK:-$(mktemp -d /tmp/neobert-gpu-bench.XXXXXX)}
mkdir -p "$WORK/steps" "$WORK/logs"
if [ -z "$RESULTS" ]; then
  if [ $MODE = gpu ]; then RESULTS=$ROOT/bench/results; else RESULTS=$WORK/results; fi
fi
mkdir -p "$RESULTS"
TAG=""
[ $MODE = local ] && TAG=local
[ $QUICK = 1 ] && TAG=${TAG:+$TAG-}quick
START=$(date +%s)
DEADLINE=$((START + BUDGET))
REPORT_RESERVE=15
STEPS_FILE=$WORK/steps/steps.jsonl
: > "$STEPS_FILE"
exec > >(tee "$WORK/run.log") 2>&1

say() { printf '[%4ds] %s\n' $(( $(date +%s) - START )) "$*"; }
json_str() { printf '%s' "$1" | tr -d '\000-\037' | sed 's/\\/\\\\/g; s/"/\\"/g'; }
record() { # name status seconds detail
  printf '{"name":"%s","status":"%s","seconds":%s,"detail":"%s"}\n' "$1" "$2" "$3" "$(json_str "$4")" >> "$STEPS_FILE"
  say "step $1: $2 ($3 s)${4:+ - $4}"
}
FAILED=0
# run_step NAME CAP_S CMD...: runs CMD with min(CAP, what the budget leaves) seconds, output to
# the console and logs/NAME.log; records ok / failed (exit code) / timeout / skipped. --limit
# NAME=S replaces CAP; --skip NAME skips the step; --no-limits runs it with no limit at all.
run_step() {
  local name=$1 cap=$2; shift 2
  local now left limit t0 rc entry
  case "$SKIP" in *",$name,"*) record "$name" skipped 0 "skipped by --skip"; return 1 ;; esac
  for entry in $LIMITS; do [ "${entry%%=*}" = "$name" ] && cap=${entry#*=}; done
  t0=$(date +%s)
  if [ $NO_LIMITS = 1 ]; then
    say "step $name (no limit): $*"
    "$@" > >(tee "$WORK/logs/$name.log") 2>&1
    rc=$?
  else
    now=$t0
    left=$((DEADLINE - now - REPORT_RESERVE))
    if [ $left -lt 10 ]; then record "$name" skipped 0 "no time left in the ${BUDGET} s budget"; return 1; fi
    limit=$(( cap < left ? cap : left ))
    say "step $name (limit ${limit} s): $*"
    timeout -k 5 "$limit" "$@" > >(tee "$WORK/logs/$name.log") 2>&1
    rc=$?
  fi
  sleep 0.2 # let tee finish
  local secs=$(( $(date +%s) - t0 ))
  if [ $rc = 0 ]; then record "$name" ok $secs ""; return 0; fi
  if [ $rc = 124 ] || [ $rc = 137 ]; then record "$name" timeout $secs "stopped at its ${limit} s limit; $(tail -n 2 "$WORK/logs/$name.log" | tr '\n' ' ')"; FAILED=1; return 1; fi
  record "$name" failed $secs "exit $rc: $(tail -n 3 "$WORK/logs/$name.log" | tr '\n' ' ' | cut -c1-400)"
  FAILED=1
  return 1
}

say "neobert-webgpu GPU bench: mode $MODE$([ $QUICK = 1 ] && echo ' quick'), $([ $NO_LIMITS = 1 ] && echo 'no limits' || echo "budget ${BUDGET} s")${LIMITS:+, limits$LIMITS}$([ "$SKIP" != , ] && echo ", skip ${SKIP//,/ }"), pack $PACK, work $WORK, results $RESULTS"
[ -f "$PACK/MANIFEST.txt" ] && sed -n '1,6p' "$PACK/MANIFEST.txt"

# ---- unpack ---------------------------------------------------------------------------------------
unxz_to() { # FILE.xz DEST
  if command -v xz >/dev/null 2>&1; then xz -dc "$1" > "$2"
  else python3 -c 'import lzma, shutil, sys; shutil.copyfileobj(lzma.open(sys.argv[1]), open(sys.argv[2], "wb"), 1 << 20)' "$1" "$2"; fi
}
unpack_debs() { # DIR: every carried .deb, unpacked (not into /)
  local deb
  for deb in "$PACK"/debs/*.deb; do
    [ -f "$deb" ] || continue
    if command -v dpkg-deb >/dev/null 2>&1; then dpkg-deb -x "$deb" "$1"
    else (cd "$1" && ar p "$deb" "$(ar t "$deb" | grep '^data.tar')" | tar -x -J 2>/dev/null || ar p "$deb" "$(ar t "$deb" | grep '^data.tar')" | tar -x); fi
  done
}
has_system_lib() { ldconfig -p 2>/dev/null | grep -q "[[:space:]]$1 "; }
CARRIED_LIBS=$WORK/vk/usr/lib/x86_64-linux-gnu
LIBDIR=$WORK/lib
# link_libs all|missing: carried libraries into LIBDIR, all of them or only those the machine lacks.
link_libs() {
  rm -rf "$LIBDIR"; mkdir -p "$LIBDIR"
  local so base
  for so in "$CARRIED_LIBS"/*.so.*; do
    [ -e "$so" ] || continue
    base=$(basename "$so")
    case "$base" in *.so.[0-9]) ;; *) continue ;; esac # sonames only (libvulkan.so.1, libGLX.so.0, ...)
    if [ "$1" = all ] || ! has_system_lib "$base"; then ln -sf "$(readlink -f "$so")" "$LIBDIR/$base"; fi
  done
  ls "$LIBDIR"
}
unpack() {
  set -e
  [ -f "$PACK/node.xz" ] || { echo "no pack at $PACK: run bench/gpu/pack.sh (and carry it)"; return 1; }
  mkdir -p "$WORK/bin" "$WORK/node_modules/webgpu/dist/linux-x64" "$WORK/vk"
  unxz_to "$PACK/node.xz" "$WORK/bin/node"
  chmod +x "$WORK/bin/node"
  unxz_to "$PACK/dawn.node.xz" "$WORK/node_modules/webgpu/dist/linux-x64/dawn.node"
  cp "$PACK/webgpu/index.js" "$PACK/webgpu/package.json" "$WORK/node_modules/webgpu/"
  rm -rf "$WORK/js"; cp -r "$PACK/js" "$WORK/js" # beside node_modules: the bundles import 'webgpu' from there
  unpack_debs "$WORK/vk"
  "$WORK/bin/node" --version
  echo "carried libraries: $(ls "$CARRIED_LIBS" 2>/dev/null | grep '\.so\.[0-9]$' | tr '\n' ' ')"
  echo "machine's libvulkan.so.1: $(has_system_lib libvulkan.so.1 && echo yes || echo no)"
}
export -f unpack unxz_to unpack_debs has_system_lib
export PACK WORK CARRIED_LIBS
if ! run_step unpack 60 bash -c unpack; then
  FAILED=1
fi
NODE=$WORK/bin/node
JS=$WORK/js

# ---- adapter --------------------------------------------------------------------------------------
# Locally the carried loader is used for everything (rehearsing it); on the GPU machine only what
# the machine lacks. NVIDIA's driver libraries may sit outside the linker's path.
BASE_LD=${LD_LIBRARY_PATH:-}
for d in /usr/local/nvidia/lib64 /usr/local/nvidia/lib /usr/lib/x86_64-linux-gnu/nvidia; do
  [ -d "$d" ] && BASE_LD=${BASE_LD:+$BASE_LD:}$d
done
if [ $MODE = local ]; then
  [ -z "${VK_ICD_FILENAMES:-}${VK_DRIVER_FILES:-}" ] && [ -f /usr/share/vulkan/icd.d/lvp_icd.json ] && export VK_ICD_FILENAMES=/usr/share/vulkan/icd.d/lvp_icd.json
  link_libs all > /dev/null
else
  export NEOBERT_DAWN_FLAGS=${NEOBERT_DAWN_FLAGS-enable-dawn-features=vulkan_enable_f16_on_nvidia}
  link_libs missing > /dev/null
fi
export LD_LIBRARY_PATH=$LIBDIR${BASE_LD:+:$BASE_LD}
ADAPTER_OK=0
try_adapter() { # label: one attempt with the current environment
  echo "--- adapter attempt: $1 (VK_DRIVER_FILES=${VK_DRIVER_FILES:-} VK_ICD_FILENAMES=${VK_ICD_FILENAMES:-} NEOBERT_DAWN_FLAGS=${NEOBERT_DAWN_FLAGS:-} libs: $(ls "$LIBDIR" | tr '\n' ' '))"
  timeout -k 5 "$ATTEMPT_S" "$NODE" "$JS/adapter.mjs" --json "$WORK/steps/adapter.json" $([ $REQUIRE_GPU = 1 ] && echo --require-gpu)
}
find_adapter() {
  try_adapter "as found" && return 0
  [ $REQUIRE_GPU = 0 ] && return 1
  local icds icd libs flags
  icds=$(ls /usr/local/nvidia/share/vulkan/icd.d/*.json /usr/share/vulkan/icd.d/nvidia*.json /etc/vulkan/icd.d/nvidia*.json /usr/local/share/vulkan/icd.d/nvidia*.json 2>/dev/null | sort -u)
  # A driver mounted without its ICD JSON: write one for the library (NVIDIA's JSON names libGLX_nvidia).
  local glx
  glx=$(ls /usr/local/nvidia/lib64/libGLX_nvidia.so.0 /usr/local/nvidia/lib/libGLX_nvidia.so.0 /usr/lib/x86_64-linux-gnu/libGLX_nvidia.so.0 2>/dev/null | head -1)
  if [ -n "$glx" ]; then
    printf '{"file_format_version": "1.0.0", "ICD": {"library_path": "%s", "api_version": "1.3.0"}}\n' "$glx" > "$WORK/nvidia_icd.json"
    icds="$icds $WORK/nvidia_icd.json"
  fi
  echo "NVIDIA ICD JSONs found: ${icds:-none}"
  for libs in missing all; do
    link_libs $libs > /dev/null
    for icd in $icds; do
      for flags in "$NEOBERT_DAWN_FLAGS" ""; do
        export VK_DRIVER_FILES=$icd VK_ICD_FILENAMES=$icd NEOBERT_DAWN_FLAGS=$flags
        try_adapter "ICD $icd, carried libraries: $libs, dawn flags '$flags'" && return 0
      done
    done
  done
  echo "--- no GPU adapter. Diagnostics:"
  ls -la /usr/share/vulkan/icd.d /etc/vulkan/icd.d /usr/local/nvidia/share/vulkan/icd.d 2>&1 | head -30
  for icd in $icds; do cat "$icd"; done
  nvidia-smi -L 2>&1 | head -3
  ldconfig -p | grep -iE 'vulkan|GLX|GLdispatch|nvidia' | head -20
  VK_LOADER_DEBUG=error,warn,driver timeout "$ATTEMPT_S" "$NODE" "$JS/adapter.mjs" 2>&1 | head -40
  return 1
}
export -f try_adapter find_adapter link_libs
# One adapter attempt's limit (0: none, with --no-limits).
ATTEMPT_S=40
[ $NO_LIMITS = 1 ] && ATTEMPT_S=0
export NODE JS MODE LIBDIR NEOBERT_DAWN_FLAGS REQUIRE_GPU ATTEMPT_S
if [ ! -x "$NODE" ]; then
  record adapter skipped 0 "no node (unpack failed)"
elif run_step adapter 150 bash -c find_adapter; then
  ADAPTER_OK=1
fi
# The environment that worked, for the next steps (the attempt ran in a child shell).
if [ $ADAPTER_OK = 1 ]; then
  eval "$("$NODE" -e '
    const a = require(process.argv[1]).env ?? {};
    // An empty VK_DRIVER_FILES means "no drivers" to the loader: unset what the attempt had unset.
    for (const k of ["VK_DRIVER_FILES", "VK_ICD_FILENAMES", "NEOBERT_DAWN_FLAGS", "LD_LIBRARY_PATH"]) console.log(a[k] ? `export ${k}=${JSON.stringify(a[k])}` : `unset ${k}`);
  ' "$WORK/steps/adapter.json")"
  # (LIBDIR's links are files: they stay as the attempt that worked, the last one, left them.)
  say "adapter: $("$NODE" -p 'const a = require(process.argv[1]); `${a.adapter.vendor} / ${a.adapter.architecture} (${a.adapter.description}), f16 ${a.hasF16}, subgroups ${JSON.stringify(a.subgroups)}, defaults ${JSON.stringify(a.defaults)}`' "$WORK/steps/adapter.json")"
fi

# ---- sizes ----------------------------------------------------------------------------------------
if [ $MODE = gpu ]; then
  CHECK_ARGS=()
  MODEL_ARGS=()
  # Smallest first, 4096 x 8 last: a point cut off by the time limit loses only itself.
  GRID_SEQ=128,512,4096; GRID_BATCH=1,8; GRID="128x1,128x8,512x1,512x8,4096x1,4096x8"
  FORWARD_ARGS=(--repeats 5 --budget-s 6)
  ATTN_ARGS=(--shapes 12x64 --lengths 128,512,4096 --batch 8 --repeats 5 --budget-s 15)
  MATMUL_ARGS=(--m 128,1024,4096 --repeats 5)
  TORCH_ARGS=(--device cuda --dtype float16 --repeats 5 --budget-s 6 --matmul 128,1024,4096)
  CAP_CHECK=150; CAP_FORWARD=200; CAP_TORCH=120; CAP_ATTN=80; CAP_MATMUL=120
elif [ $QUICK = 1 ]; then
  CHECK_ARGS=(--quick)
  MODEL_ARGS=(--layers 2 --hidden 64 --heads 4 --intermediate 256 --vocab 1000)
  GRID_SEQ=16,64; GRID_BATCH=2,1; GRID="16x2,16x1,64x2,64x1"
  FORWARD_ARGS=(--repeats 2)
  ATTN_ARGS=(--shapes 2x16 --lengths 32,64 --batch 2 --repeats 2 --target-ms 20)
  MATMUL_ARGS=(--m 16 --shapes 64x192,64x64,64x352,176x64 --variants prod,v1 --repeats 2 --target-ms 5 --no-odd)
  TORCH_ARGS=(--device cpu --dtype float32 --repeats 2 --matmul 16)
  CAP_CHECK=60; CAP_FORWARD=30; CAP_TORCH=30; CAP_ATTN=20; CAP_MATMUL=20
else
  CHECK_ARGS=()
  MODEL_ARGS=(--layers 4 --hidden 128 --heads 2 --intermediate 512 --vocab 4000)
  GRID_SEQ=128,512; GRID_BATCH=2,1; GRID="128x2,128x1,512x2,512x1"
  FORWARD_ARGS=(--repeats 3)
  ATTN_ARGS=(--shapes 4x16,2x64 --lengths 128,512 --batch 2 --repeats 3)
  MATMUL_ARGS=(--m 128 --shapes 128x384,128x128,128x688,344x128 --variants prod --repeats 3 --no-odd)
  TORCH_ARGS=(--device cpu --dtype float32 --repeats 3 --matmul 128)
  CAP_CHECK=150; CAP_FORWARD=60; CAP_TORCH=60; CAP_ATTN=40; CAP_MATMUL=40
fi

# ---- steps ----------------------------------------------------------------------------------------
if [ $ADAPTER_OK = 1 ]; then
  run_step check $CAP_CHECK "$NODE" "$JS/check.mjs" --fixtures "$PACK/fixtures" --json "$WORK/steps/check.json" "${CHECK_ARGS[@]}"
  run_step forward $CAP_FORWARD "$NODE" "$JS/forward.mjs" "${MODEL_ARGS[@]}" --seq $GRID_SEQ --batch $GRID_BATCH --dtype f32,f16 "${FORWARD_ARGS[@]}" --json "$WORK/steps/forward.json"
else
  for s in check forward; do record $s skipped 0 "no WebGPU adapter"; done
fi

# PyTorch: the python3 that has torch (and CUDA on the GPU machine).
PY=
for p in python3 /usr/bin/python3 /opt/torch/.venv/bin/python3; do
  if command -v "$p" >/dev/null 2>&1 && "$p" -c 'import torch' >/dev/null 2>&1; then PY=$p; break; fi
done
if [ -z "$PY" ]; then
  record torch skipped 0 "no python3 with torch here"
elif [ $MODE = gpu ] && ! "$PY" -c 'import torch, sys; sys.exit(0 if torch.cuda.is_available() else 1)' >/dev/null 2>&1; then
  record torch skipped 0 "$PY has torch $("$PY" -c 'import torch; print(torch.__version__)') without CUDA"
else
  torch_model=()
  [ ${#MODEL_ARGS[@]} -gt 0 ] && torch_model=("${MODEL_ARGS[@]}")
  run_step torch $CAP_TORCH env PYTHONUNBUFFERED=1 "$PY" "$ROOT/bench/gpu/torch_ref.py" --grid "$GRID" "${torch_model[@]}" "${TORCH_ARGS[@]}" --json "$WORK/steps/torch.json"
fi

if [ $ADAPTER_OK = 1 ]; then
  run_step attention $CAP_ATTN "$NODE" "$JS/attention.mjs" "${ATTN_ARGS[@]}" --json "$WORK/steps/attention.json"
  run_step matmul $CAP_MATMUL "$NODE" "$JS/matmul.mjs" "${MATMUL_ARGS[@]}" --json "$WORK/steps/matmul.json"
else
  for s in attention matmul; do record $s skipped 0 "no WebGPU adapter"; done
fi

# ---- report ---------------------------------------------------------------------------------------
# steps.jsonl -> steps.json (the report step records itself after it ran; its status is in the log).
report() {
  { echo '['; paste -sd, "$STEPS_FILE"; echo ']'; } > "$WORK/steps/steps.json"
  "$NODE" "$JS/report.mjs" --steps "$WORK/steps" --out-dir "$RESULTS" ${TAG:+--tag $TAG}
}
export -f report
export STEPS_FILE RESULTS TAG
# The report always runs, whatever the budget has left.
REPORT_RESERVE=0
DEADLINE=$(( $(date +%s) + 45 ))
if [ -x "$NODE" ]; then
  run_step report 30 bash -c report || true
  # Once more with the report's own status in it.
  { echo '['; paste -sd, "$STEPS_FILE"; echo ']'; } > "$WORK/steps/steps.json"
  timeout "$([ $NO_LIMITS = 1 ] && echo 0 || echo 30)" "$NODE" "$JS/report.mjs" --steps "$WORK/steps" --out-dir "$RESULTS" ${TAG:+--tag $TAG} > /dev/null 2>&1 || true
else
  record report skipped 0 "no node (unpack failed)"
fi
say "done in $(( $(date +%s) - START )) s; work folder $WORK; results in $RESULTS"
cp "$WORK/run.log" "$RESULTS/gpu-run${TAG:+-$TAG}-$(date +%Y-%m-%d).log" 2>/dev/null || true
exit $FAILED
