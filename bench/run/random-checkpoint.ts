// Node-only: random-weight checkpoints of a released model's dimensions, written once as a Hub
// folder (config.json + model.safetensors with the Hub tensor names, F32) under
// bench/peers/.cache/ (gitignored). Our engine loads it through loadCheckpoint (the registry picks
// the architecture by model_type: parseConfig, loadWeights, createModel) and the PyTorch / ONNX
// peers load the very same file, so every engine runs identical weights and outputs compare.
import { createHash } from 'node:crypto';
import { closeSync, existsSync, mkdirSync, openSync, renameSync, writeFileSync, writeSync } from 'node:fs';
import path from 'node:path';

export interface RandomPreset {
  /** For logs and result files. */
  label: string;
  /** config.json as the released checkpoint has it (the fields the engines read). */
  config: Record<string, unknown>;
}

export const RANDOM_PRESETS: Record<string, RandomPreset> = {
  // sentence-transformers/all-MiniLM-L6-v2
  'bert-minilm': {
    label: 'all-MiniLM-L6-v2 dimensions (BERT 6 x 384), random weights',
    config: {
      architectures: ['BertModel'],
      model_type: 'bert',
      hidden_size: 384,
      num_hidden_layers: 6,
      num_attention_heads: 12,
      intermediate_size: 1536,
      hidden_act: 'gelu',
      vocab_size: 30522,
      max_position_embeddings: 512,
      type_vocab_size: 2,
      layer_norm_eps: 1e-12,
      pad_token_id: 0,
      position_embedding_type: 'absolute',
      torch_dtype: 'float32',
    },
  },
  // answerdotai/ModernBERT-base (encoder only: ModernBertModel, no MLM head)
  'modernbert-base': {
    label: 'ModernBERT-base dimensions (22 x 768), random weights',
    config: {
      architectures: ['ModernBertModel'],
      model_type: 'modernbert',
      hidden_size: 768,
      num_hidden_layers: 22,
      num_attention_heads: 12,
      intermediate_size: 1152,
      hidden_activation: 'gelu',
      vocab_size: 50368,
      max_position_embeddings: 8192,
      global_attn_every_n_layers: 3,
      local_attention: 128,
      global_rope_theta: 160000.0,
      local_rope_theta: 10000.0,
      norm_eps: 1e-5,
      norm_bias: false,
      attention_bias: false,
      mlp_bias: false,
      classifier_pooling: 'mean',
      classifier_activation: 'gelu',
      pad_token_id: 50283,
      bos_token_id: 50281,
      eos_token_id: 50282,
      cls_token_id: 50281,
      sep_token_id: 50282,
      torch_dtype: 'float32',
    },
  },
  // nomic-ai/nomic-embed-text-v1.5 (NomicBertModel: v1.5's config has no rotary_scaling_factor)
  'nomic-embed-v1.5': {
    label: 'nomic-embed-text-v1.5 dimensions (NomicBERT 12 x 768), random weights',
    config: {
      architectures: ['NomicBertModel'],
      model_type: 'nomic_bert',
      activation_function: 'swiglu',
      n_embd: 768,
      n_head: 12,
      n_inner: 3072,
      n_layer: 12,
      n_positions: 8192,
      vocab_size: 30528,
      pad_vocab_size_multiple: 64,
      type_vocab_size: 2,
      layer_norm_epsilon: 1e-12,
      qkv_proj_bias: false,
      mlp_fc1_bias: false,
      mlp_fc2_bias: false,
      prenorm: false,
      rotary_emb_base: 1000,
      rotary_emb_fraction: 1.0,
      rotary_emb_interleaved: false,
      rotary_scaling_factor: null,
      max_trained_positions: 2048,
      torch_dtype: 'float32',
    },
  },
  // Alibaba-NLP/gte-base-en-v1.5 (NewModel)
  'gte-base-en-v1.5': {
    label: 'gte-base-en-v1.5 dimensions (GTE 12 x 768), random weights',
    config: {
      architectures: ['NewModel'],
      model_type: 'new',
      hidden_size: 768,
      num_hidden_layers: 12,
      num_attention_heads: 12,
      intermediate_size: 3072,
      hidden_act: 'gelu',
      vocab_size: 30528,
      max_position_embeddings: 8192,
      type_vocab_size: 0,
      layer_norm_eps: 1e-12,
      layer_norm_type: 'layer_norm',
      pack_qkv: true,
      pad_token_id: 0,
      position_embedding_type: 'rope',
      rope_scaling: { factor: 2.0, type: 'ntk' },
      rope_theta: 500000,
      torch_dtype: 'float32',
    },
  },
  // sentence-transformers/all-mpnet-base-v2 (its config.json says MPNetForMaskedLM; the file holds
  // MPNetModel keys, no prefix: encoder only here, no pooler)
  'all-mpnet-base-v2': {
    label: 'all-mpnet-base-v2 dimensions (MPNet 12 x 768, relative bias), random weights',
    config: {
      architectures: ['MPNetForMaskedLM'],
      model_type: 'mpnet',
      hidden_size: 768,
      num_hidden_layers: 12,
      num_attention_heads: 12,
      intermediate_size: 3072,
      hidden_act: 'gelu',
      vocab_size: 30527,
      max_position_embeddings: 514,
      layer_norm_eps: 1e-5,
      pad_token_id: 1,
      bos_token_id: 0,
      eos_token_id: 2,
      relative_attention_num_buckets: 32,
      torch_dtype: 'float32',
    },
  },
};

/** How a tensor is filled: embeddings U(-1, 1), matrices U(+-1/sqrt(K)), biases U(+-0.1), norms 1 / 0. */
type Fill = 'embedding' | 'matrix' | 'bias' | 'ones' | 'zeros';
interface TensorPlan {
  name: string;
  shape: number[];
  fill: Fill;
}

const num = (c: Record<string, unknown>, k: string) => c[k] as number;

/** Every tensor of the encoder as the Hub names it (BertModel / ModernBertModel, no prefix). */
export function hubTensors(config: Record<string, unknown>): TensorPlan[] {
  const C = num(config, 'hidden_size');
  const I = num(config, 'intermediate_size');
  const V = num(config, 'vocab_size');
  const L = num(config, 'num_hidden_layers');
  const t: TensorPlan[] = [];
  const linear = (name: string, out: number, inp: number, bias: boolean) => {
    t.push({ name: `${name}.weight`, shape: [out, inp], fill: 'matrix' });
    if (bias) t.push({ name: `${name}.bias`, shape: [out], fill: 'bias' });
  };
  const norm = (name: string, bias: boolean) => {
    t.push({ name: `${name}.weight`, shape: [C], fill: 'ones' });
    if (bias) t.push({ name: `${name}.bias`, shape: [C], fill: 'zeros' });
  };
  const type = config['model_type'];
  if (type === 'bert' || type === 'roberta' || type === 'xlm-roberta') {
    t.push({ name: 'embeddings.word_embeddings.weight', shape: [V, C], fill: 'embedding' });
    t.push({ name: 'embeddings.position_embeddings.weight', shape: [num(config, 'max_position_embeddings'), C], fill: 'embedding' });
    t.push({ name: 'embeddings.token_type_embeddings.weight', shape: [num(config, 'type_vocab_size'), C], fill: 'embedding' });
    norm('embeddings.LayerNorm', true);
    for (let i = 0; i < L; i++) {
      const p = `encoder.layer.${i}`;
      for (const n of ['query', 'key', 'value']) linear(`${p}.attention.self.${n}`, C, C, true);
      linear(`${p}.attention.output.dense`, C, C, true);
      norm(`${p}.attention.output.LayerNorm`, true);
      linear(`${p}.intermediate.dense`, I, C, true);
      linear(`${p}.output.dense`, C, I, true);
      norm(`${p}.output.LayerNorm`, true);
    }
  } else if (type === 'modernbert') {
    const nb = !!config['norm_bias'];
    const ab = !!config['attention_bias'];
    const mb = !!config['mlp_bias'];
    t.push({ name: 'embeddings.tok_embeddings.weight', shape: [V, C], fill: 'embedding' });
    norm('embeddings.norm', nb);
    for (let i = 0; i < L; i++) {
      const p = `layers.${i}`;
      if (i !== 0) norm(`${p}.attn_norm`, nb); // layer 0: identity, no tensor
      linear(`${p}.attn.Wqkv`, 3 * C, C, ab);
      linear(`${p}.attn.Wo`, C, C, ab);
      norm(`${p}.mlp_norm`, nb);
      linear(`${p}.mlp.Wi`, 2 * I, C, mb);
      linear(`${p}.mlp.Wo`, C, I, mb);
    }
    norm('final_norm', nb);
  } else if (type === 'nomic_bert') {
    const Cn = num(config, 'n_embd');
    const In = Math.ceil(num(config, 'n_inner') / 256) * 256;
    const tensor = (name: string, shape: number[], fill: Fill) => t.push({ name, shape, fill });
    tensor('embeddings.word_embeddings.weight', [num(config, 'vocab_size'), Cn], 'embedding');
    tensor('embeddings.token_type_embeddings.weight', [num(config, 'type_vocab_size'), Cn], 'embedding');
    tensor('emb_ln.weight', [Cn], 'ones');
    tensor('emb_ln.bias', [Cn], 'zeros');
    for (let i = 0; i < num(config, 'n_layer'); i++) {
      const p = `encoder.layers.${i}`;
      tensor(`${p}.attn.Wqkv.weight`, [3 * Cn, Cn], 'matrix');
      tensor(`${p}.attn.out_proj.weight`, [Cn, Cn], 'matrix');
      tensor(`${p}.mlp.fc11.weight`, [In, Cn], 'matrix');
      tensor(`${p}.mlp.fc12.weight`, [In, Cn], 'matrix');
      tensor(`${p}.mlp.fc2.weight`, [Cn, In], 'matrix');
      for (const n of ['norm1', 'norm2']) {
        tensor(`${p}.${n}.weight`, [Cn], 'ones');
        tensor(`${p}.${n}.bias`, [Cn], 'zeros');
      }
    }
  } else if (type === 'new') {
    t.push({ name: 'embeddings.word_embeddings.weight', shape: [V, C], fill: 'embedding' });
    if (num(config, 'type_vocab_size') > 0) t.push({ name: 'embeddings.token_type_embeddings.weight', shape: [num(config, 'type_vocab_size'), C], fill: 'embedding' });
    norm('embeddings.LayerNorm', true);
    for (let i = 0; i < L; i++) {
      const p = `encoder.layer.${i}`;
      linear(`${p}.attention.qkv_proj`, 3 * C, C, true);
      linear(`${p}.attention.o_proj`, C, C, true);
      norm(`${p}.attn_ln`, true);
      linear(`${p}.mlp.up_gate_proj`, 2 * I, C, false);
      linear(`${p}.mlp.down_proj`, C, I, true);
      norm(`${p}.mlp_ln`, true);
    }
  } else if (type === 'mpnet') {
    t.push({ name: 'embeddings.word_embeddings.weight', shape: [V, C], fill: 'embedding' });
    t.push({ name: 'embeddings.position_embeddings.weight', shape: [num(config, 'max_position_embeddings'), C], fill: 'embedding' });
    norm('embeddings.LayerNorm', true);
    for (let i = 0; i < L; i++) {
      const p = `encoder.layer.${i}`;
      for (const n of ['q', 'k', 'v', 'o']) linear(`${p}.attention.attn.${n}`, C, C, true);
      norm(`${p}.attention.LayerNorm`, true);
      linear(`${p}.intermediate.dense`, I, C, true);
      linear(`${p}.output.dense`, C, I, true);
      norm(`${p}.output.LayerNorm`, true);
    }
    // One table for every layer, [buckets, heads]; U(-1, 1) like an embedding.
    t.push({ name: 'encoder.relative_attention_bias.weight', shape: [num(config, 'relative_attention_num_buckets'), num(config, 'num_attention_heads')], fill: 'embedding' });
  } else throw new Error(`random checkpoint: model_type ${String(type)} is not known here`);
  return t;
}

function fillTensor(plan: TensorPlan, seed: number): Float32Array {
  const n = plan.shape.reduce((a, b) => a * b, 1);
  const a = new Float32Array(n);
  if (plan.fill === 'ones') return a.fill(1);
  if (plan.fill === 'zeros') return a;
  const scale = plan.fill === 'embedding' ? 1 : plan.fill === 'bias' ? 0.1 : 1 / Math.sqrt(plan.shape[1]);
  let s = seed >>> 0 || 1;
  for (let i = 0; i < n; i++) {
    s = (Math.imul(s, 1664525) + 1013904223) >>> 0;
    a[i] = (s / 4294967296 - 0.5) * 2 * scale;
  }
  return a;
}

// Bump when the values written change, so cached folders (and the ONNX exports keyed on them) renew.
const GENERATOR_VERSION = 1;

/** Writes (once) the preset's folder; returns its path. Tensors are generated and written one by one. */
export function ensureRandomCheckpoint(root: string, preset: string, log: (s: string) => void): string {
  const p = RANDOM_PRESETS[preset];
  if (!p) throw new Error(`unknown random preset ${preset}; known: ${Object.keys(RANDOM_PRESETS).join(', ')}`);
  const key = createHash('sha256').update(JSON.stringify([GENERATOR_VERSION, p.config])).digest('hex').slice(0, 10);
  const dir = path.join(root, 'bench/peers/.cache', `random-${preset}-${key}`);
  const file = path.join(dir, 'model.safetensors');
  if (existsSync(file) && existsSync(path.join(dir, 'config.json'))) return dir;
  mkdirSync(dir, { recursive: true });
  const plans = hubTensors(p.config);
  const t = performance.now();
  // safetensors: u64 header length, JSON header (padded with spaces to 8 bytes), then the data.
  const header: Record<string, unknown> = { __metadata__: { format: 'pt', generator: `bench/run/random-checkpoint.ts v${GENERATOR_VERSION}` } };
  let offset = 0;
  for (const plan of plans) {
    const bytes = plan.shape.reduce((a, b) => a * b, 1) * 4;
    header[plan.name] = { dtype: 'F32', shape: plan.shape, data_offsets: [offset, offset + bytes] };
    offset += bytes;
  }
  let json = JSON.stringify(header);
  json += ' '.repeat((8 - (json.length % 8)) % 8);
  const fd = openSync(`${file}.tmp`, 'w');
  try {
    const len = Buffer.alloc(8);
    len.writeBigUInt64LE(BigInt(json.length));
    writeSync(fd, len);
    writeSync(fd, Buffer.from(json, 'utf8'));
    plans.forEach((plan, i) => {
      const data = fillTensor(plan, 0x9e3779b9 ^ Math.imul(i + 1, 2654435761));
      writeSync(fd, new Uint8Array(data.buffer, data.byteOffset, data.byteLength));
    });
  } finally {
    closeSync(fd);
  }
  writeFileSync(path.join(dir, 'config.json'), `${JSON.stringify(p.config, null, 1)}\n`);
  renameSync(`${file}.tmp`, file);
  log(`wrote random ${preset} checkpoint (${plans.length} tensors, ${(offset / 2 ** 20).toFixed(0)} MiB) in ${((performance.now() - t) / 1000).toFixed(1)} s -> ${path.relative(root, dir)}`);
  return dir;
}
