// Bundles the Node entry points (library + CLI) with esbuild. WGSL files are imported with
// Vite's `?raw` suffix; this plugin gives esbuild the same meaning (the file's text).
import { build } from 'esbuild';
import { readFile } from 'node:fs/promises';
import path from 'node:path';

const rawText = {
  name: 'raw-text',
  setup(b) {
    b.onResolve({ filter: /\?raw$/ }, (args) => ({
      path: path.resolve(args.resolveDir, args.path.replace(/\?raw$/, '')),
      namespace: 'raw-text',
    }));
    b.onLoad({ filter: /.*/, namespace: 'raw-text' }, async (args) => ({
      contents: await readFile(args.path, 'utf8'),
      loader: 'text',
    }));
  },
};

const entryPoints = process.argv.slice(2).length ? process.argv.slice(2) : ['src/cli.ts', 'src/index.ts', 'src/node/index.ts'];
await build({
  entryPoints,
  outdir: 'dist',
  outbase: 'src',
  bundle: true,
  platform: 'node',
  format: 'esm',
  target: 'node20',
  sourcemap: true,
  packages: 'external',
  plugins: [rawText],
  logLevel: 'warning',
});
