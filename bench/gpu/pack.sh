#!/usr/bin/env bash
# Packs what bench/gpu/run.sh needs on a GPU machine that has no Node.js and reaches no registry
# (../shared/docs/webgpu-setup.md), into one folder that the device tool's `run` can carry:
#   js/*.mjs                the steps, bundled with esbuild (bench/gpu/build.mjs): no node_modules needed
#   node.xz                 this machine's Node binary, xz-compressed
#   webgpu/                 the npm package `webgpu`'s index.js + package.json, and
#   dawn.node.xz            its linux-x64 dawn.node only (the package is 132 MB with every platform)
#   debs/*.deb              the Vulkan loader (libvulkan1) and the GL dispatch libraries NVIDIA's
#                           Vulkan driver loads (libglvnd0, libglx0, libgl1, libegl1, libopengl0, libgles2)
#   fixtures/<arch>/<case>  one small fixture per architecture from ../shared/fixtures
#   MANIFEST.txt            sizes, checksums, commit
# The folder must stay under the tool's 64 MiB together with the repo's tracked files (~10 MB);
# this script fails above 50 MiB.
#
#   bench/gpu/pack.sh [--out DIR] [--fast] [--allow-no-debs]
#     --out DIR        default bench/gpu/pack (gitignored; name it in the device tool's `carry`)
#     --fast           xz -0 instead of -6 (bigger, seconds instead of a minute: for the local test)
#     --allow-no-debs  go on when the .debs cannot be downloaded (run.sh then uses the machine's
#                      loader); the default fails, since the GPU machine may have none
# Compressed files are cached in bench/gpu/.cache/ (gitignored), keyed by the input's checksum.
set -euo pipefail
ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)
OUT=$ROOT/bench/gpu/pack
LEVEL=-6
ALLOW_NO_DEBS=0
APT_TIMEOUT=60
while [ $# -gt 0 ]; do
  case "$1" in
    --out) OUT=$(realpath -m "$2"); shift 2 ;;
    --fast) LEVEL=-0; shift ;;
    --allow-no-debs) ALLOW_NO_DEBS=1; APT_TIMEOUT=10; shift ;;
    *) echo "pack.sh: unknown argument $1" >&2; exit 2 ;;
  esac
done
SHARED=${NEOBERT_SHARED_DIR:-$ROOT/../shared}
CACHE=$ROOT/bench/gpu/.cache
FIXTURES=(neobert/tiny-mlm-f16 bert/bert-cls-f16 roberta/roberta-cls-bf16 xlm-roberta/xlmr-base-nopool-f16 modernbert/modernbert-cls-mean-bf16)
DEBS=(libvulkan1 libglvnd0 libglx0 libgl1 libegl1 libopengl0 libgles2)
LIMIT_MIB=50
started=$(date +%s)

mkdir -p "$CACHE"
rm -rf "$OUT.tmp"
mkdir -p "$OUT.tmp/js" "$OUT.tmp/webgpu" "$OUT.tmp/fixtures" "$OUT.tmp/debs"

# xz of FILE into DEST, cached by checksum and level.
compress() {
  local src=$1 dest=$2 sum
  sum=$(sha256sum "$src" | cut -c1-16)
  local cached="$CACHE/$(basename "$src")-$sum$LEVEL.xz"
  if [ ! -s "$cached" ]; then
    echo "pack: xz $LEVEL $(basename "$src") ($(du -m "$src" | cut -f1) MiB)..."
    xz $LEVEL -T0 -c "$src" > "$cached.tmp" && mv "$cached.tmp" "$cached"
  fi
  cp "$cached" "$dest"
}

NODE_BIN=$(readlink -f "$(command -v node)")
compress "$NODE_BIN" "$OUT.tmp/node.xz"
WEBGPU=$(readlink -f "$ROOT/node_modules/webgpu")
compress "$WEBGPU/dist/linux-x64/dawn.node" "$OUT.tmp/dawn.node.xz"
cp "$WEBGPU/index.js" "$WEBGPU/package.json" "$OUT.tmp/webgpu/"

echo "pack: bundling the steps"
(cd "$ROOT" && node bench/gpu/build.mjs "$OUT.tmp/js")

for f in "${FIXTURES[@]}"; do
  [ -d "$SHARED/fixtures/$f" ] || { echo "pack: fixture $SHARED/fixtures/$f missing (set NEOBERT_SHARED_DIR)" >&2; exit 1; }
  mkdir -p "$OUT.tmp/fixtures/$(dirname "$f")"
  cp -r "$SHARED/fixtures/$f" "$OUT.tmp/fixtures/$f"
done

# The .debs: amd64 (the GPU machines are x86-64), downloaded once into the cache.
missing=()
for d in "${DEBS[@]}"; do ls "$CACHE"/debs/${d}_*_amd64.deb >/dev/null 2>&1 || missing+=("$d"); done
if [ ${#missing[@]} -gt 0 ]; then
  echo "pack: apt-get download ${missing[*]}"
  mkdir -p "$CACHE/debs" /tmp/neobert-apt-amd64/partial
  o=(-oAPT::Architecture=amd64 -oAPT::Architectures=amd64 -oDir::State::Lists=/tmp/neobert-apt-amd64)
  # Time-limited: an offline machine (CI) must not wait on the network.
  if ! (timeout $APT_TIMEOUT apt-get "${o[@]}" update -qq >/dev/null 2>&1 || true; cd "$CACHE/debs" && timeout $APT_TIMEOUT apt-get "${o[@]}" download "${missing[@]}" >/dev/null 2>&1); then
    # Lists of this machine's own architecture work too when it is amd64.
    (cd "$CACHE/debs" && timeout $APT_TIMEOUT apt-get download "${missing[@]}" >/dev/null 2>&1) || true
  fi
fi
for d in "${DEBS[@]}"; do
  deb=$(ls "$CACHE"/debs/${d}_*_amd64.deb 2>/dev/null | sort -V | tail -1 || true)
  if [ -n "$deb" ]; then
    cp "$deb" "$OUT.tmp/debs/"
  elif [ $ALLOW_NO_DEBS = 1 ]; then
    echo "pack: WARNING: no $d .deb (--allow-no-debs): run.sh will rely on the machine's libraries"
  else
    echo "pack: could not download $d (apt-get download); the GPU machine may have no Vulkan loader. --allow-no-debs to go on anyway." >&2
    exit 1
  fi
done

{
  echo "neobert-webgpu GPU bench pack"
  echo "built: $(date -u +%Y-%m-%dT%H:%M:%SZ) on $(uname -m)"
  echo "commit: $(git -C "$ROOT" rev-parse HEAD 2>/dev/null || echo unknown)$(git -C "$ROOT" diff --quiet 2>/dev/null || echo ' (with uncommitted changes)')"
  echo "node: $("$NODE_BIN" --version) ($NODE_BIN)"
  echo "webgpu: $(node -p "require('$WEBGPU/package.json').version")"
  echo "xz level: $LEVEL"
  echo
  (cd "$OUT.tmp" && find . -type f ! -name MANIFEST.txt | sort | while read -r f; do printf '%10d  %s  %s\n' "$(stat -c %s "$f")" "$(sha256sum "$f" | cut -c1-16)" "$f"; done)
} > "$OUT.tmp/MANIFEST.txt"

rm -rf "$OUT"
mv "$OUT.tmp" "$OUT"
size=$(du -sb "$OUT" | cut -f1)
mib=$(( (size + 1048575) / 1048576 ))
echo "pack: $OUT: $mib MiB ($(find "$OUT" -type f | wc -l) files) in $(( $(date +%s) - started )) s"
if [ $mib -gt $LIMIT_MIB ]; then
  echo "pack: over $LIMIT_MIB MiB: with the repo's files it would not fit the device tool's 64 MiB" >&2
  exit 1
fi
