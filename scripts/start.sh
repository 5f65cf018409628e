#!/usr/bin/env bash
# Quick start, part 1: sets the clone up (scripts/setup.sh) and runs the main job: the CLI
# embedding three texts with the bundled embedder (weights/wordnet-mini, trained on WordNet): a
# sentence, a paraphrase of it that shares no word with it, and a distractor that shares its words
# but not its meaning; then (with --demo) the demo page.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh
printf 'the cat sat on the mat\na kitten rested upon a rug\nthe gym mat sat on the floor of the hall\n' |
  node dist/cli.js embed |
  node -e '
    const rows = require("fs").readFileSync(0, "utf8").trim().split("\n").map((l) => JSON.parse(l).embedding);
    const dot = (a, b) => a.reduce((s, x, i) => s + x * b[i], 0);
    console.log(`embedded ${rows.length} texts (${rows[0].length} dims) with the bundled weights/wordnet-mini`);
    console.log(`cosine("the cat sat on the mat", "a kitten rested upon a rug")             = ${dot(rows[0], rows[1]).toFixed(3)}  (same meaning, no shared word)`);
    console.log(`cosine("the cat sat on the mat", "the gym mat sat on the floor of the hall") = ${dot(rows[0], rows[2]).toFixed(3)}  (shared words, other meaning)`);'
if [ "${1:-}" = "--demo" ]; then exec npx vite --host 127.0.0.1; fi
echo "start: the demo page: bash scripts/start.sh --demo (or npm start), then open http://127.0.0.1:5173" >&2
