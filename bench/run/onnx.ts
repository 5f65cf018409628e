// Node-only: the ONNX export of a model for the onnxruntime-web peer, made by the architecture's
// PyTorch peer (bench/peers/<arch>_torch.py: the module is checked against the fixtures first) and
// cached in bench/peers/.cache/ (gitignored), keyed by the weights and the exporter.
import { execFileSync, spawnSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import { existsSync, readFileSync, statSync } from 'node:fs';
import path from 'node:path';
import { ARCHITECTURES } from '../../src/models/index';

export interface OnnxExport {
  file: string;
  meta: { verification?: unknown; inputs?: string[]; [k: string]: unknown };
}

/** The PyTorch peer of one architecture: its script and the fixture folders it is checked on. */
export interface TorchPeer {
  /** bench/peers/<arch>_torch.py, relative to the repository root. */
  script: string;
  /** Subfolders of <shared>/fixtures. */
  fixtures: string[];
}

const NEOBERT_PEER: TorchPeer = { script: 'bench/peers/neobert_torch.py', fixtures: ['neobert'] };

/**
 * The PyTorch peer for a config.json model_type, found by convention: the architecture file's
 * peer is bench/peers/<its name, lower case>_torch.py (BERT, RoBERTa and XLM-R share bert_torch.py),
 * checked on the fixture folders of its model types (`_` written `-`: nomic_bert -> nomic-bert).
 */
export function torchPeerFor(modelType: string): TorchPeer {
  const architecture = ARCHITECTURES.find((a) => a.modelTypes.includes(modelType));
  if (!architecture) throw new Error(`no architecture runs model_type ${modelType}`);
  return { script: `bench/peers/${architecture.name.toLowerCase()}_torch.py`, fixtures: architecture.modelTypes.map((t) => t.replace(/_/g, '-')) };
}

/** null when python can import torch and numpy, else why not. */
export function pythonProblem(python: string): string | null {
  if (!existsSync(python)) return `${python} not found`;
  const r = spawnSync(python, ['-c', 'import torch, numpy; print(torch.__version__)'], { encoding: 'utf8' });
  return r.status === 0 ? null : `${python} cannot import torch/numpy: ${(r.stderr || r.stdout).trim().split('\n').slice(-1)[0]}`;
}

export function torchModelArgs(model: { base: true } | { dir: string }): string[] {
  return 'base' in model ? ['--config', 'base'] : ['--model', model.dir];
}

export function ensureOnnx(root: string, python: string, model: { base: true } | { dir: string }, log: (s: string) => void, peer: TorchPeer = NEOBERT_PEER): OnnxExport {
  const problem = pythonProblem(python);
  if (problem) throw new Error(`cannot export ONNX: ${problem}`);
  const script = path.join(root, peer.script);
  const h = createHash('sha256').update(readFileSync(script)).update(readFileSync(path.join(root, 'bench/peers/torch_common.py')));
  if ('base' in model) h.update('base-random');
  else
    for (const f of ['config.json', 'model.safetensors', 'model.safetensors.index.json']) {
      const p = path.join(model.dir, f);
      if (existsSync(p)) h.update(`${f}:${statSync(p).size}:${statSync(p).mtimeMs}`);
    }
  const name = `${'base' in model ? 'neobert-base-random' : path.basename(model.dir)}-${h.digest('hex').slice(0, 10)}.onnx`;
  const file = path.join(root, 'bench/peers/.cache', name);
  if (!existsSync(file) || !existsSync(`${file}.json`)) {
    const shared = process.env.NEOBERT_SHARED_DIR ?? path.join(root, '..', 'shared');
    const dirs = peer.fixtures.map((f) => path.join(shared, 'fixtures', f)).filter((d) => existsSync(d));
    const verify = dirs.flatMap((d) => ['--verify-fixtures', d]);
    const missing = peer.fixtures.length - dirs.length;
    log(
      `exporting ONNX (${dirs.length ? `PyTorch module checked against the fixtures first${missing ? `; ${missing} fixture folder(s) missing` : ''}` : 'module NOT checked: no fixtures found'}) -> ${path.relative(root, file)}`,
    );
    const t = performance.now();
    execFileSync(python, [script, 'export', ...torchModelArgs(model), '--out', file, ...verify], { stdio: ['ignore', 'ignore', 'inherit'] });
    log(`  exported in ${((performance.now() - t) / 1000).toFixed(1)} s`);
  }
  return { file, meta: JSON.parse(readFileSync(`${file}.json`, 'utf8')) };
}
