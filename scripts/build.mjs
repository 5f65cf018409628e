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
  await build({
    ...common,
    entryPoints: ['src/cli.ts', 'src/index.ts', 'src/node/index.ts'],
    outdir: 'dist',
    outbase: 'src',
    sourcemap: true,
    banner: { js: '' },
  });
}
