// Load memory of jina-embeddings-v3's 250002-row vocabulary path: peak RSS and wall time of
// `neobert forward` (load + one 3 x 16 forward) over a synthetic XLMRobertaLoRA checkpoint in the
// real layout (BF16, 5 tasks, rank 4, the real tensor names) at a reduced hidden size, with and
// without its adapters (the same weights saved as a plain XLMRobertaModel), per dtype. Written once
// to bench/peers/.cache/jina-v3-<C>x<L>/. On lavapipe the GPU buffers live in host memory, so RSS
// counts the "GPU" weights too: the word table is uploaded as f32 (V x C x 4 bytes; the real
// model's is 1.02 GB), and converted from BF16 to f32 on the host just before its upload.
//   node scripts/build.mjs && node scripts/build.mjs --run bench/jina-load-memory.ts [--hidden 128] [--layers 2] [--dtype f16,f32] [--json FILE]
import { spawnSync } from 'node:child_process';
import { existsSync, mkdirSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { parseArgs } from 'node:util';
import { serializeSafetensors, type SerializableTensor } from '../src/safetensors';

const { values } = parseArgs({
  options: {
    hidden: { type: 'string', default: '128' },
    layers: { type: 'string', default: '2' },
    dtype: { type: 'string', default: 'f16,f32' },
    cli: { type: 'string', default: 'dist/cli.js' },
    json: { type: 'string' },
  },
});
const C = Number(values.hidden);
const L = Number(values.layers);
const [V, T, R, I, H] = [250002, 5, 4, 4 * C, Math.max(1, C / 64)];
const TASKS = ['retrieval.query', 'retrieval.passage', 'separation', 'classification', 'text-matching'];
const root = path.resolve(`bench/peers/.cache/jina-v3-${C}x${L}`);

let state = 12345;
const random = (n: number, scale: number) => {
  const a = new Float32Array(n);
  for (let i = 0; i < n; i++) {
    state = (Math.imul(state, 1664525) + 1013904223) >>> 0;
    a[i] = ((state / 2 ** 32) * 2 - 1) * scale;
  }
  return a;
};
const t = (shape: number[], scale = 0.02): SerializableTensor => ({ dtype: 'BF16', shape, data: random(shape.reduce((x, y) => x * y, 1), scale) });
const ones = (n: number): SerializableTensor => ({ dtype: 'BF16', shape: [n], data: new Float32Array(n).fill(1) });

function write(dir: string, lora: boolean): void {
  if (existsSync(path.join(dir, 'model.safetensors'))) return;
  mkdirSync(dir, { recursive: true });
  state = 12345; // same weights in both layouts
  const tensors: Record<string, SerializableTensor> = {};
  const p = lora ? 'roberta.' : '';
  const adapted = (base: string, out: number, inp: number, embedding = false) => {
    tensors[lora ? `${p}${base}.parametrizations.weight.original` : `${base}.weight`] = t([out, inp]);
    if (lora) {
      tensors[`${p}${base}.parametrizations.weight.0.lora_A`] = t(embedding ? [T, out, R] : [T, R, inp]);
      tensors[`${p}${base}.parametrizations.weight.0.lora_B`] = t(embedding ? [T, R, inp] : [T, out, R]);
    }
  };
  adapted('embeddings.word_embeddings', V, C, true);
  adapted('embeddings.token_type_embeddings', 1, C, true);
  tensors[`${p}emb_ln.weight`] = ones(C);
  tensors[`${p}emb_ln.bias`] = t([C]);
  for (let i = 0; i < L; i++) {
    const l = `encoder.layers.${i}`;
    for (const [name, out, inp] of [['mixer.Wqkv', 3 * C, C], ['mixer.out_proj', C, C], ['mlp.fc1', I, C], ['mlp.fc2', C, I]] as const) {
      adapted(`${l}.${name}`, out, inp);
      tensors[`${p}${l}.${name}.bias`] = t([out]);
    }
    for (const n of ['norm1', 'norm2']) {
      tensors[`${p}${l}.${n}.weight`] = ones(C);
      tensors[`${p}${l}.${n}.bias`] = t([C]);
    }
  }
  adapted('pooler.dense', C, C);
  tensors[`${p}pooler.dense.bias`] = t([C]);
  writeFileSync(path.join(dir, 'model.safetensors'), serializeSafetensors(tensors));
  const config = {
    architectures: ['XLMRobertaModel'],
    hidden_act: 'gelu',
    hidden_size: C,
    intermediate_size: I,
    layer_norm_eps: 1e-5,
    max_position_embeddings: 8194,
    num_attention_heads: H,
    num_hidden_layers: L,
    pad_token_id: 1,
    position_embedding_type: 'rotary',
    rotary_emb_base: 20000,
    type_vocab_size: 1,
    vocab_size: V,
    lora_adaptations: lora ? TASKS : null,
    lora_rank: R,
    lora_alpha: 1,
    ...(lora ? {} : { model_type: 'xlm-roberta' }),
  };
  writeFileSync(path.join(dir, 'config.json'), JSON.stringify(config, null, 2));
}

// One 3 x 16 batch, as `neobert forward` reads it (adapter_mask for the adapted model).
const input = (lora: boolean) => {
  const file = path.join(root, lora ? 'input-lora.safetensors' : 'input.safetensors');
  const ids = Array.from({ length: 48 }, (_, i) => (i * 7919) % V);
  writeFileSync(
    file,
    serializeSafetensors({
      input_ids: { dtype: 'I64', shape: [3, 16], data: Int32Array.from(ids) },
      attention_mask: { dtype: 'I64', shape: [3, 16], data: new Int32Array(48).fill(1) },
      ...(lora ? { adapter_mask: { dtype: 'I32', shape: [3], data: Int32Array.of(0, 1, 4) } } : {}),
    }),
  );
  return file;
};

const folders = { lora: path.join(root, 'lora'), base: path.join(root, 'base') };
write(folders.lora, true);
write(folders.base, false);
const rows: { model: string; dtype: string; peakRssMB: number; seconds: number }[] = [];
for (const dtype of values.dtype.split(',')) {
  for (const [model, dir] of Object.entries(folders)) {
    const run = spawnSync('/usr/bin/time', ['-f', '%M %e', process.execPath, path.resolve(values.cli), 'forward', '--model', dir, '--dtype', dtype, '--input', input(model === 'lora'), '--output', path.join(root, 'out.safetensors')], {
      encoding: 'utf8',
    });
    if (run.status !== 0) throw new Error(`forward --model ${dir} --dtype ${dtype} failed (${run.status}):\n${run.stderr}`);
    const [kb, seconds] = run.stderr.trim().split('\n').at(-1)!.split(' ').map(Number);
    rows.push({ model: `${model} (C ${C}, ${L} layers, V ${V})`, dtype, peakRssMB: Math.round(kb / 1024), seconds });
    console.log(`${model} ${dtype}: peak RSS ${Math.round(kb / 1024)} MB, ${seconds} s`);
  }
}
console.log(`word table f32 on the GPU: ${((V * C * 4) / 2 ** 20).toFixed(0)} MiB; its adapters (A gathered by id, f32): ${((V * T * R * 4) / 2 ** 20).toFixed(0)} MiB`);
if (values.json) writeFileSync(values.json, JSON.stringify({ date: new Date().toISOString(), C, L, V, T, R, rows }, null, 2));
