// Bundles the GPU-machine steps into self-contained ES modules for bench/gpu/pack.sh: every
// dependency is inlined except the npm package `webgpu` (Dawn), which src/gpu.ts imports at run
// time and run.sh provides as node_modules/webgpu (its index.js + this platform's dawn.node).
// WGSL `?raw` imports become strings, as in scripts/build.mjs.
//   node bench/gpu/build.mjs OUT_DIR
import { build } from 'esbuild';
import { readFile } from 'node:fs/promises';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../..');
const outdir = path.resolve(process.argv[2] ?? 'bench/gpu/pack/js');

const rawText = {
  name: 'raw-text',
  setup(b) {
    b.onResolve({ filter: /\?raw$/ }, (args) => ({ path: path.resolve(args.resolveDir, args.path.replace(/\?raw$/, '')), namespace: 'raw-text' }));
    b.onLoad({ filter: /.*/, namespace: 'raw-text' }, async (args) => ({ contents: await readFile(args.path, 'utf8'), loader: 'text' }));
  },
};

export const ENTRIES = {
  adapter: 'bench/gpu/adapter.ts',
  check: 'bench/gpu/check.ts',
  forward: 'bench/forward.ts',
  matmul: 'bench/matmul.ts',
  attention: 'bench/attention.ts',
  report: 'bench/gpu/report.ts',
};

await build({
  absWorkingDir: root,
  entryPoints: Object.entries(ENTRIES).map(([out, entry]) => ({ in: entry, out })),
  outdir,
  outExtension: { '.js': '.mjs' },
  bundle: true,
  platform: 'node',
  format: 'esm',
  target: 'node20',
  external: ['webgpu'],
  plugins: [rawText],
  // CommonJS dependencies inside an ES module bundle call require(): give them one.
  banner: { js: "import { createRequire as __createRequire } from 'node:module'; const require = __createRequire(import.meta.url);" },
  sourcemap: false,
  minify: false,
  logLevel: 'warning',
});
console.log(`bundled ${Object.keys(ENTRIES).join(', ')} into ${path.relative(root, outdir) || '.'}`);
