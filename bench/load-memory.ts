// Load-memory benchmark: peak RSS and wall time of `neobert embed` of one short text over a
// full-size NeoBERT checkpoint (28 x 768, F32, 981 MB, random weights written once to
// bench/peers/.cache/neobert-base-f32), per dtype, for one or more builds of the CLI side by side
// (e.g. this tree's dist/cli.js and an older one's). On lavapipe the GPU buffers live in host
// memory, so RSS counts the weights on the "GPU" too: f16 weights are 0.54 GB, f32 0.98 GB.
//   node scripts/build.mjs --run bench/load-memory.ts [--cli A.js --cli B.js] [--dtype f16,f32] [--repeats 2] [--json FILE]
import { spawnSync } from 'node:child_process';
import { copyFileSync, existsSync, mkdirSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { NEOBERT_BASE_CONFIG_JSON, ffnWidthFor } from '../src/models/neobert';
import { serializeSafetensors, type SerializableTensor } from '../src/safetensors';

const args = process.argv.slice(2);
const option = (name: string, fallback: string[]): string[] => {
  const values = args.flatMap((a, i) => (a === `--${name}` ? [args[i + 1]] : []));
  return values.length > 0 ? values.flatMap((v) => v.split(',')) : fallback;
};
const clis = option('cli', ['dist/cli.js']).map((c) => path.resolve(c));
const dtypes = option('dtype', ['f16', 'f32']);
const repeats = Number(option('repeats', ['2'])[0]);
const jsonOut = option('json', [])[0];
const dir = path.resolve('bench/peers/.cache/neobert-base-f32');

function ensureCheckpoint(): void {
  if (existsSync(path.join(dir, 'model.safetensors'))) return;
  mkdirSync(dir, { recursive: true });
  const c = NEOBERT_BASE_CONFIG_JSON;
  const C = c.hidden_size;
  const F = ffnWidthFor(c.intermediate_size);
  const V = c.vocab_size;
  let state = 12345;
  const random = (n: number, scale: number) => {
    const a = new Float32Array(n);
    for (let i = 0; i < n; i++) {
      state = (Math.imul(state, 1664525) + 1013904223) >>> 0;
      a[i] = ((state / 2 ** 32) * 2 - 1) * scale;
    }
    return a;
  };
  const t = (shape: number[], scale = 0.02): SerializableTensor => ({ dtype: 'F32', shape, data: random(shape.reduce((x, y) => x * y, 1), scale) });
  const tensors: Record<string, SerializableTensor> = {
    'model.encoder.weight': t([V, C]),
    'model.layer_norm.weight': { dtype: 'F32', shape: [C], data: new Float32Array(C).fill(1) },
    'decoder.weight': t([V, C]),
    'decoder.bias': { dtype: 'F32', shape: [V], data: new Float32Array(V) },
  };
  for (let i = 0; i < c.num_hidden_layers; i++) {
    const p = `model.transformer_encoder.${i}.`;
    tensors[`${p}attention_norm.weight`] = { dtype: 'F32', shape: [C], data: new Float32Array(C).fill(1) };
    tensors[`${p}qkv.weight`] = t([3 * C, C]);
    tensors[`${p}wo.weight`] = t([C, C]);
    tensors[`${p}ffn_norm.weight`] = { dtype: 'F32', shape: [C], data: new Float32Array(C).fill(1) };
    tensors[`${p}ffn.w12.weight`] = t([2 * F, C]);
    tensors[`${p}ffn.w3.weight`] = t([C, F]);
  }
  writeFileSync(path.join(dir, 'model.safetensors'), serializeSafetensors(tensors));
  writeFileSync(path.join(dir, 'config.json'), JSON.stringify(c, null, 2));
  copyFileSync('weights/neobert-mini/vocab.txt', path.join(dir, 'vocab.txt'));
}

interface Sample {
  cli: string;
  model: string;
  dtype: string;
  peakRssMB: number;
  seconds: number;
}

function measure(cli: string, model: string, dtype: string): Sample {
  const run = spawnSync('/usr/bin/time', ['-f', '%M %e', process.execPath, cli, 'embed', '--model', model, '--dtype', dtype], {
    input: 'the cat sat on the mat\n',
    encoding: 'utf8',
    maxBuffer: 64 * 2 ** 20,
  });
  if (run.status !== 0) throw new Error(`${cli} embed --model ${model} --dtype ${dtype} failed (${run.status}):\n${run.stderr}`);
  const [kb, seconds] = run.stderr.trim().split('\n').at(-1)!.split(' ').map(Number);
  return { cli, model: path.basename(model), dtype, peakRssMB: Math.round(kb / 1024), seconds };
}

ensureCheckpoint();
const samples: Sample[] = [];
for (let r = 0; r < repeats; r++) {
  for (const cli of clis) {
    samples.push(measure(cli, path.resolve('weights/neobert-mini'), 'f32'));
    for (const dtype of dtypes) samples.push(measure(cli, dir, dtype));
  }
}
const rows = new Map<string, Sample[]>();
for (const s of samples) rows.set(`${s.cli}\t${s.model}\t${s.dtype}`, [...(rows.get(`${s.cli}\t${s.model}\t${s.dtype}`) ?? []), s]);
console.log('cli | model | dtype | peak RSS MB (min of repeats) | wall s (min)');
const summary = [...rows.values()].map((group) => ({
  cli: group[0].cli,
  model: group[0].model,
  dtype: group[0].dtype,
  peakRssMB: Math.min(...group.map((g) => g.peakRssMB)),
  seconds: Math.min(...group.map((g) => g.seconds)),
}));
for (const s of summary) console.log(`${s.cli} | ${s.model} | ${s.dtype} | ${s.peakRssMB} | ${s.seconds}`);
if (jsonOut) writeFileSync(jsonOut, JSON.stringify({ date: new Date().toISOString(), summary, samples }, null, 2));
