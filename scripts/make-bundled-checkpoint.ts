// Generates weights/neobert-mini ('bundled-mlm'): the small NeoBERT checkpoint with an MLM head
// bundled so fill-mask, the demo's fill-mask panel and the NeoBERT-path tests run with no download
// (the bundled embedder, weights/wordnet-mini, is trained by scripts/train-embedder/train.py).
// NeoBERT architecture and tensor names (NeoBERTLMHead export), the real
// bert-base-uncased vocabulary, F16 storage, deterministic random weights.
//
// The weights are not trained. They are scaled so that the residual stream stays dominated by
// the token embeddings: mean-pooled embeddings then behave like a bag of words (texts sharing
// words are close), which keeps the demo's search readable, but nothing here is semantic.
//   node scripts/build.mjs --run scripts/make-bundled-checkpoint.ts [VOCAB_TXT] [OUT_DIR]
import { mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { serializeSafetensors, type SerializableTensor } from '../src/safetensors';
import { buildBertTokenizerJson } from '../src/tokenizer';
import { ffnWidthFor } from '../src/models/neobert';

const vocabPath = process.argv[2] ?? '../shared/fixtures/tokenizer/vocab.txt';
const outDir = process.argv[3] ?? 'weights/neobert-mini';

const config = {
  architectures: ['NeoBERTLMHead'],
  model_type: 'neobert',
  hidden_size: 64,
  num_hidden_layers: 2,
  num_attention_heads: 4,
  dim_head: 16,
  intermediate_size: 256,
  vocab_size: 30522,
  max_length: 4096,
  norm_eps: 1e-5,
  pad_token_id: 0,
  torch_dtype: 'float16',
};

// mulberry32 + Box-Muller: reproducible normal samples.
let state = 0x5eed;
function uniform(): number {
  state = (state + 0x6d2b79f5) >>> 0;
  let t = state;
  t = Math.imul(t ^ (t >>> 15), t | 1);
  t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
  return (((t ^ (t >>> 14)) >>> 0) + 0.5) / 4294967296;
}
function normal(n: number, std: number): Float32Array {
  const out = new Float32Array(n);
  for (let i = 0; i < n; i++) out[i] = std * Math.sqrt(-2 * Math.log(uniform())) * Math.cos(2 * Math.PI * uniform());
  return out;
}
const ones = (n: number) => new Float32Array(n).fill(1);

const C = config.hidden_size;
const V = config.vocab_size;
const F = ffnWidthFor(config.intermediate_size);
const f16 = (shape: number[], data: Float32Array): SerializableTensor => ({ dtype: 'F16', shape, data });

const tensors: Record<string, SerializableTensor> = {
  'model.encoder.weight': f16([V, C], normal(V * C, 1)),
  'model.layer_norm.weight': f16([C], ones(C)),
  'decoder.weight': f16([V, C], normal(V * C, 1 / Math.sqrt(C))),
  'decoder.bias': f16([V], new Float32Array(V)),
};
for (let i = 0; i < config.num_hidden_layers; i++) {
  const p = `model.transformer_encoder.${i}`;
  tensors[`${p}.attention_norm.weight`] = f16([C], ones(C));
  tensors[`${p}.qkv.weight`] = f16([3 * C, C], normal(3 * C * C, 1 / Math.sqrt(C)));
  // Small output projections: each block nudges the residual stream instead of replacing it.
  tensors[`${p}.wo.weight`] = f16([C, C], normal(C * C, 0.1 / Math.sqrt(C)));
  tensors[`${p}.ffn_norm.weight`] = f16([C], ones(C));
  tensors[`${p}.ffn.w12.weight`] = f16([2 * F, C], normal(2 * F * C, 1 / Math.sqrt(C)));
  tensors[`${p}.ffn.w3.weight`] = f16([C, F], normal(C * F, 0.1 / Math.sqrt(F)));
}

const vocabText = readFileSync(vocabPath, 'utf8');
const vocabLines = vocabText.split('\n');
if (vocabLines.at(-1) === '') vocabLines.pop();
if (vocabLines.length !== V) throw new Error(`${vocabPath}: ${vocabLines.length} tokens, expected ${V}`);

mkdirSync(outDir, { recursive: true });
writeFileSync(path.join(outDir, 'config.json'), JSON.stringify(config, null, 2) + '\n');
writeFileSync(
  path.join(outDir, 'model.safetensors'),
  serializeSafetensors(tensors, { format: 'pt', note: 'untrained NeoBERT-architecture weights for demos and tests' }),
);
writeFileSync(path.join(outDir, 'vocab.txt'), vocabText);
writeFileSync(path.join(outDir, 'tokenizer.json'), JSON.stringify(buildBertTokenizerJson(vocabLines)));
// A sentence-transformers config (mean pooling, then Normalize): embed()'s defaults, and the
// pooling under which these untrained weights give readable (bag-of-words) similarities.
const module = (idx: number, path_: string, type: string) => ({ idx, name: String(idx), path: path_, type: `sentence_transformers.models.${type}` });
writeFileSync(path.join(outDir, 'modules.json'), JSON.stringify([module(0, '', 'Transformer'), module(1, '1_Pooling', 'Pooling'), module(2, '2_Normalize', 'Normalize')], null, 2) + '\n');
mkdirSync(path.join(outDir, '1_Pooling'), { recursive: true });
writeFileSync(
  path.join(outDir, '1_Pooling', 'config.json'),
  JSON.stringify({ word_embedding_dimension: C, pooling_mode_cls_token: false, pooling_mode_mean_tokens: true, pooling_mode_max_tokens: false, pooling_mode_mean_sqrt_len_tokens: false }, null, 2) + '\n',
);
console.log(`wrote ${outDir}: hidden ${C}, ${config.num_hidden_layers} layers, FFN ${F}, vocab ${V}, F16`);
