// Demo page (index.html + src/demo/main.ts). `npm start` serves the repository root, so the
// bundled checkpoints are at /weights/wordnet-mini/ (the embedder) and /weights/neobert-mini/ (the
// untrained MLM); `vite build` writes dist-demo/ and copies the checkpoints there too (the Node library build, scripts/build.mjs, owns dist/).
import { readdirSync, readFileSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { defineConfig, type Plugin } from 'vite';

const root = path.dirname(fileURLToPath(import.meta.url));
const BUNDLED = ['weights/wordnet-mini', 'weights/neobert-mini'];

/** Copies the bundled checkpoints into the build output, where the page loads them from. */
function bundledCheckpoint(): Plugin {
  return {
    name: 'neobert-bundled-checkpoint',
    apply: 'build',
    generateBundle() {
      // Sub-folders too (1_Pooling/config.json of its sentence-transformers config).
      for (const folder of BUNDLED) {
        for (const entry of readdirSync(path.join(root, folder), { recursive: true, withFileTypes: true })) {
          if (!entry.isFile() || entry.name === 'README.md') continue;
          const file = path.relative(path.join(root, folder), path.join(entry.parentPath, entry.name)).split(path.sep).join('/');
          this.emitFile({ type: 'asset', fileName: `${folder}/${file}`, source: readFileSync(path.join(root, folder, file)) });
        }
      }
    },
  };
}

export default defineConfig({
  root,
  // A static site, not a single-page app: a missing file is a 404, not index.html. The engine
  // probes optional checkpoint files (modules.json, tokenizer files) and takes a 404 as "absent".
  appType: 'mpa',
  server: { host: '127.0.0.1' },
  preview: { host: '127.0.0.1' },
  build: { outDir: 'dist-demo', emptyOutDir: true, target: 'es2022', chunkSizeWarningLimit: 2000 },
  // The engine runs in a module worker (src/worker.ts), which has its own chunks.
  worker: { format: 'es' },
  // Found only once the worker starts; listed so the dev server does not reload the page then.
  optimizeDeps: { include: ['@huggingface/tokenizers'] },
  plugins: [bundledCheckpoint()],
});
