// Renders bench result files into one SVG (several files overlay, e.g. a Node and a browser run):
//   node scripts/build.mjs --run bench/chart-cli.ts OUT.svg RESULT.json [MORE.json ...]
import { readFileSync, writeFileSync } from 'node:fs';
import { renderChart } from './chart';
import type { BenchResult } from './run/report';

const [outFile, ...inputs] = process.argv.slice(2);
if (!outFile?.endsWith('.svg') || inputs.length === 0) {
  console.error('usage: node scripts/build.mjs --run bench/chart-cli.ts OUT.svg RESULT.json [MORE.json ...]');
  process.exit(2);
}
writeFileSync(outFile, renderChart(inputs.map((f) => JSON.parse(readFileSync(f, 'utf8')) as BenchResult)));
console.log(`wrote ${outFile}`);
