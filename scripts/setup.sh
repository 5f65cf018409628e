#!/usr/bin/env bash
# Makes this clone ready to run: npm dependencies (and the built dist/), a WebGPU adapter, and,
# with --browser, Debian's Chromium for the browser test. Installs system packages only where
# they are missing and only as root (or with passwordless sudo); otherwise prints the command to
# run. Idempotent: a second run only checks. Used by scripts/start.sh and scripts/test.sh.
set -euo pipefail
cd "$(dirname "$0")/.."
want_browser=0
[ "${1:-}" = "--browser" ] && want_browser=1

can_install() { [ "$(id -u)" = 0 ] || sudo -n true 2>/dev/null; }

if [ ! -d node_modules/webgpu ] || [ package-lock.json -nt node_modules/.package-lock.json ]; then
  echo "setup: installing npm dependencies (npm ci)" >&2
  npm ci --no-audit --no-fund >&2
fi

# A WebGPU adapter through Dawn (npm `webgpu`): any Vulkan driver will do (a GPU's, or lavapipe).
probe() { node scripts/probe-adapter.mjs; }
if ! adapter=$(probe 2>/dev/null); then
  if can_install; then
    echo "setup: no WebGPU adapter; installing the software Vulkan driver (Mesa lavapipe)" >&2
    bash scripts/install-vulkan-driver.sh >/dev/null
    adapter=$(probe) || { echo "setup: still no WebGPU adapter after installing lavapipe" >&2; exit 1; }
  else
    echo "setup: no WebGPU adapter. Install a Vulkan driver, e.g.: sudo bash scripts/install-vulkan-driver.sh" >&2
    exit 1
  fi
fi
echo "setup: WebGPU adapter: $adapter" >&2

if [ "$want_browser" = 1 ]; then
  if [ -x "${CHROMIUM_PATH:-/usr/bin/chromium}" ] && [ -f /usr/lib/chromium/vk_swiftshader_icd.json ] && dpkg -s fonts-liberation >/dev/null 2>&1; then
    :
  elif can_install; then
    echo "setup: installing Debian's Chromium for the browser test" >&2
    bash scripts/install-chromium.sh >/dev/null
  else
    echo "setup: the browser test needs Chromium: sudo bash scripts/install-chromium.sh (or set CHROMIUM_PATH)" >&2
    exit 1
  fi
fi
