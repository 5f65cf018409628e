#!/usr/bin/env bash
# Installs Debian's Chromium for the browser test (test/browser/): playwright-core drives
# /usr/bin/chromium headless, and WebGPU runs there on the SwiftShader Vulkan driver that ships
# inside the package (no GPU needed). No browser is ever downloaded by a test tool.
# Idempotent; needs root (or sudo). Prints the browser's path.
set -euo pipefail
browser=/usr/bin/chromium
icd=/usr/lib/chromium/vk_swiftshader_icd.json
SUDO=""; [ "$(id -u)" = 0 ] || SUDO=sudo
if [ -x "$browser" ] && [ -f "$icd" ] && dpkg -s fonts-liberation >/dev/null 2>&1; then
  echo "$browser"; exit 0
fi
export DEBIAN_FRONTEND=noninteractive
$SUDO apt-get update -qq >&2
# chromium from bookworm (security updates keep it current); fonts so screenshots show text.
$SUDO apt-get install -y -qq --no-install-recommends chromium libvulkan1 fonts-liberation fonts-dejavu-core >&2
[ -x "$browser" ] || { echo "install-chromium: $browser missing after install" >&2; exit 1; }
[ -f "$icd" ] || { echo "install-chromium: $icd (SwiftShader Vulkan) missing after install" >&2; exit 1; }
echo "$browser"
