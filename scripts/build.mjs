// Bundles TypeScript entry points with esbuild for Node. WGSL files are imported with Vite's
// `?raw` suffix; the plugin below gives esbuild the same meaning (the file's text), so one
// import works in Vite (browser, vitest) and here.
//   node scripts/build.mjs                 -> dist/ (library, Node entry, CLI)
//   node scripts/build.mjs --run FILE.ts … -> bundle FILE.ts to a temp file and run it with args
import { build } from 'esbuild';
import { spawnSync } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { readFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

const root = path.dirname(path.dirname(fileURLToPath(import.meta.url)));

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

const common = {
  bundle: true,
  platform: 'node',
  format: 'esm',
  target: 'node20',
  packages: 'external',
  plugins: [rawText],
  logLevel: 'warning',
  absWorkingDir: root,
};

const args = process.argv.slice(2);
if (args[0] === '--run') {
  const [, entry, ...rest] = args;
  // Inside the repo so bare imports resolve against its node_modules.
  const dir = mkdtempSync(path.join(root, 'node_modules', '.run-'));
  const outfile = path.join(dir, 'main.mjs');
  try {
    await build({ ...common, entryPoints: [path.resolve(entry)], outfile, sourcemap: 'inline' });
    const result = spawnSync(process.execPath, ['--enable-source-maps', outfile, ...rest], { stdio: 'inherit' });
    process.exitCode = result.status ?? 1;
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
} else {
  // dist/index.js starts its default worker from dist/worker.js: the source names ./worker.ts
  // (what Vite bundles from src/), so the built library points at the built worker instead.
  const builtWorker = {
    name: 'built-worker-url',
    setup(b) {
      b.onLoad({ filter: /src[\\/]worker-client\.ts$/ }, async (args) => {
        const text = await readFile(args.path, 'utf8');
        if (!text.includes("new URL('./worker.ts', import.meta.url)")) throw new Error(`${args.path}: worker URL not found`);
        return { contents: text.replace("new URL('./worker.ts', import.meta.url)", "new URL('./worker.js', import.meta.url)"), loader: 'ts' };
      });
    },
  };
  // One build with code splitting: every entry point (library, Node helpers, CLI, worker)
  // imports the modules they share, src/errors.ts above all, from one chunk (dist/chunk-*.js),
  // so an error thrown through 'neobert-webgpu/node' is an instance of the class 'neobert-webgpu'
  // exports. 'neutral' (node: builtins external) keeps browser code honest: the worker's files
  // must import nothing from node: (test/cli.test.ts checks it).
  await build({
    ...common,
    platform: 'neutral',
    target: 'es2022',
    external: ['node:*'],
    splitting: true,
    chunkNames: '[name]-[hash]', // beside index.js: shared code resolves ./worker.js and ./node/index.js from there
    plugins: [rawText, builtWorker],
    entryPoints: ['src/cli.ts', 'src/index.ts', 'src/node/index.ts', 'src/worker.ts'],
    outdir: 'dist',
    outbase: 'src',
    sourcemap: true,
  });
}
