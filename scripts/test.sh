#!/usr/bin/env bash
# Quick start, part 2: sets the clone up with the browser (scripts/setup.sh --browser) and runs
# the whole test suite (npm test: tsc, vitest on the WebGPU adapter, the browser test).
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh --browser
npm test
