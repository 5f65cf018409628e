#!/usr/bin/env bash
# Quick start, part 1: sets the clone up (scripts/setup.sh) and runs the main job: the CLI
# embedding a few texts with the bundled checkpoint, then (with --demo) the demo page.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh
printf 'the cat sat on the mat\nGPUs run neural networks\na kitten rests on the rug\n' |
  node dist/cli.js embed --pooling mean --normalize |
  node -e '
    const rows = require("fs").readFileSync(0, "utf8").trim().split("\n").map((l) => JSON.parse(l).embedding);
    const dot = (a, b) => a.reduce((s, x, i) => s + x * b[i], 0);
    console.log(`embedded ${rows.length} texts (${rows[0].length} dims); cosine(0,2) = ${dot(rows[0], rows[2]).toFixed(3)}, cosine(0,1) = ${dot(rows[0], rows[1]).toFixed(3)}`);'
if [ "${1:-}" = "--demo" ]; then exec npx vite --host 127.0.0.1; fi
echo "start: the demo page: bash scripts/start.sh --demo (or npm start), then open http://127.0.0.1:5173" >&2
