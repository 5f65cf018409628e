#!/usr/bin/env bash
# Installs a software Vulkan driver (Mesa lavapipe from bookworm-backports) so Dawn can create a
# WebGPU adapter on a machine without a GPU. Bookworm's own Mesa 22.3 is too old for Dawn.
# Idempotent; needs root (or sudo). Prints the ICD file to point VK_ICD_FILENAMES at.
set -euo pipefail
icd=/usr/share/vulkan/icd.d/lvp_icd.json
SUDO=""; [ "$(id -u)" = 0 ] || SUDO=sudo
if [ -f "$icd" ] && grep -q '"api_version": "1\.[3-9]' "$icd" 2>/dev/null; then
  echo "$icd"; exit 0
fi
# Reuse the mirror the machine already uses for bookworm.
mirror=$(grep -rhE --exclude=neobert-backports.list '^(URIs:|deb )' /etc/apt/sources.list /etc/apt/sources.list.d/ 2>/dev/null \
  | grep -oE 'https?://[^ ]+/debian/?$|https?://[^ ]+/debian/? ' | grep -v security | head -n1 | tr -d ' ' || true)
mirror=${mirror:-http://deb.debian.org/debian}
echo "deb ${mirror%/} bookworm-backports main" | $SUDO tee /etc/apt/sources.list.d/neobert-backports.list >/dev/null
export DEBIAN_FRONTEND=noninteractive
$SUDO apt-get update -qq >&2
$SUDO apt-get install -y -qq -t bookworm-backports mesa-vulkan-drivers libvulkan1 >&2
[ -f "$icd" ] || { echo "install-vulkan-driver: $icd missing after install" >&2; exit 1; }
echo "$icd"
