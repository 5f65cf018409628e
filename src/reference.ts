// Plain TypeScript CPU reference: one function per kernel (same layouts, see kernels/*.wgsl
// headers) and the whole NeoBERT forward. Slow and obvious on purpose: it is the oracle the
// GPU kernels are tested against. Sums are accumulated in f64 (JS numbers).
import type { NeoBERTConfig, NeoBERTWeights } from './models/neobert';

/**
 * hidden[t, :] = table[ids[t], :] (+ typeTable[typeIds[t], :]) (+ positionTable[positions[t], :]);
 * tables [rows, C]. The sums are f32 in transformers' order (word + type, then + position), so the
 * result is bit-exact.
 */
export function embeddingRef(
  ids: ArrayLike<number>,
  table: Float32Array,
  hidden: number,
  extra: { positions?: ArrayLike<number>; positionTable?: Float32Array; typeIds?: ArrayLike<number>; typeTable?: Float32Array } = {},
): Float32Array {
  const out = new Float32Array(ids.length * hidden);
  for (let t = 0; t < ids.length; t++) out.set(table.subarray(ids[t] * hidden, (ids[t] + 1) * hidden), t * hidden);
  for (const [index, rows] of [
    [extra.typeIds, extra.typeTable],
    [extra.positions, extra.positionTable],
  ] as const) {
    if (!index || !rows) continue;
    for (let t = 0; t < ids.length; t++) {
      for (let c = 0; c < hidden; c++) out[t * hidden + c] += rows[index[t] * hidden + c];
    }
  }
  return out;
}

/** out[r, :] = x[r, :] / sqrt(mean(x[r, :]^2) + eps) * weight. */
export function rmsnormRef(x: Float32Array, weight: Float32Array, rows: number, cols: number, eps: number): Float32Array {
  const out = new Float32Array(rows * cols);
  for (let r = 0; r < rows; r++) {
    let sum = 0;
    for (let c = 0; c < cols; c++) sum += x[r * cols + c] ** 2;
    const inv = 1 / Math.sqrt(sum / cols + eps);
    for (let c = 0; c < cols; c++) out[r * cols + c] = x[r * cols + c] * inv * weight[c];
  }
  return out;
}

/**
 * nn.LayerNorm: out[r, :] = (x[r, :] - mean) / sqrt(var + eps) * weight + bias (bias optional),
 * biased variance, in float64.
 */
export function layerNormRef(x: Float32Array, weight: Float32Array, bias: Float32Array | null, rows: number, cols: number, eps: number): Float32Array {
  const out = new Float32Array(rows * cols);
  for (let r = 0; r < rows; r++) {
    let sum = 0;
    for (let c = 0; c < cols; c++) sum += x[r * cols + c];
    const mean = sum / cols;
    let squares = 0;
    for (let c = 0; c < cols; c++) squares += (x[r * cols + c] - mean) ** 2;
    const rstd = 1 / Math.sqrt(squares / cols + eps);
    for (let c = 0; c < cols; c++) out[r * cols + c] = (x[r * cols + c] - mean) * rstd * weight[c] + (bias ? bias[c] : 0);
  }
  return out;
}

/** erf in float64 (JS has none): erfc below, |error| < 1e-15. */
export function erfRef(x: number): number {
  if (Math.abs(x) < 2.5) return erfSeries(x);
  return x > 0 ? 1 - erfcContinuedFraction(x) : erfcContinuedFraction(-x) - 1;
}

/** erfc in float64, relative error < 1e-12 (the tail keeps its precision: erfc(10) ~ 2e-45). */
export function erfcRef(x: number): number {
  if (x < 0) return 2 - erfcRef(-x);
  return x < 2.5 ? 1 - erfSeries(x) : erfcContinuedFraction(x);
}

// erf(x) = 2/sqrt(pi) exp(-x^2) sum_n 2^n x^(2n+1) / (1 * 3 * ... * (2n+1)): positive terms, no cancellation.
function erfSeries(x: number): number {
  const x2 = x * x;
  let term = x;
  let sum = x;
  for (let n = 1; n < 200 && Math.abs(term) > 1e-17 * Math.abs(sum); n++) {
    term *= (2 * x2) / (2 * n + 1);
    sum += term;
  }
  return (2 / Math.sqrt(Math.PI)) * Math.exp(-x2) * sum;
}

// erfc(x) = exp(-x^2) / sqrt(pi) / (x + (1/2) / (x + 1 / (x + (3/2) / (x + ...)))), x >= 2.5 (modified Lentz).
function erfcContinuedFraction(x: number): number {
  let f = x;
  let c = x;
  let d = 0;
  for (let n = 1; n < 500; n++) {
    const a = n / 2;
    d = 1 / (x + a * d);
    c = x + a / c;
    const delta = c * d;
    f *= delta;
    if (Math.abs(delta - 1) < 1e-16) break;
  }
  return Math.exp(-x * x) / Math.sqrt(Math.PI) / f;
}

/** The matmul epilogue activations (src/kernels.ts MatmulActivation), in float64. */
export type ActivationName = 'none' | 'tanh' | 'gelu' | 'gelu_tanh' | 'relu' | 'silu';

/** act(x) in float64: gelu is the exact 0.5 x (1 + erf(x / sqrt 2)), gelu_tanh HF's gelu_new. */
export function activationRef(name: ActivationName, x: number): number {
  switch (name) {
    case 'none':
      return x;
    case 'tanh':
      return Math.tanh(x);
    case 'gelu':
      return 0.5 * x * erfcRef(-x / Math.SQRT2);
    case 'gelu_tanh':
      return 0.5 * x * (1 + Math.tanh(Math.sqrt(2 / Math.PI) * (x + 0.044715 * x * x * x)));
    case 'relu':
      return Math.max(x, 0);
    case 'silu':
      return x / (1 + Math.exp(-x));
  }
}

/** out = act(x [M, K] @ w[N, K]^T + bias) + residual. */
export function matmulRef(
  x: Float32Array,
  w: Float32Array,
  M: number,
  N: number,
  K: number,
  extra: { bias?: Float32Array; residual?: Float32Array; activation?: ActivationName } = {},
): Float32Array {
  const out = new Float32Array(M * N);
  for (let m = 0; m < M; m++) {
    for (let n = 0; n < N; n++) {
      let acc = 0;
      const xo = m * K;
      const wo = n * K;
      for (let k = 0; k < K; k++) acc += x[xo + k] * w[wo + k];
      if (extra.bias) acc += extra.bias[n];
      if (extra.activation) acc = activationRef(extra.activation, acc);
      if (extra.residual) acc += extra.residual[m * N + n];
      out[m * N + n] = acc;
    }
  }
  return out;
}

// Host tables shared with the runtime (src/tables.ts): one definition, used by both.
export { ropeTable, paddedSequences, tokenPositions, type SequenceRange } from './tables';
import { debertaLogBucket, ropeTable, paddedSequences, tokenPositions, type SequenceRange } from './tables';
export { debertaLogBucket };

/**
 * qkv [N, H, 3, D] -> q, k, v [H, N, D], RoPE (adjacent pairs) at positions[t] on q and k; with
 * rope null the split only (positions then only give the token count).
 */
export function ropeQkvRef(
  qkv: Float32Array,
  rope: Float32Array | null,
  positions: ArrayLike<number>,
  numHeads: number,
  headDim: number,
): { q: Float32Array; k: Float32Array; v: Float32Array } {
  const tokens = positions.length;
  const size = numHeads * tokens * headDim;
  const q = new Float32Array(size);
  const k = new Float32Array(size);
  const v = new Float32Array(size);
  const pairs = headDim / 2;
  for (let token = 0; token < tokens; token++) {
    const p = positions[token];
    for (let h = 0; h < numHeads; h++) {
      const src = (token * numHeads + h) * 3 * headDim;
      const dst = (h * tokens + token) * headDim;
      for (let j = 0; j < pairs; j++) {
        const c = rope ? rope[(p * pairs + j) * 2] : 1;
        const s = rope ? rope[(p * pairs + j) * 2 + 1] : 0;
        for (const [target, offset] of [[q, 0], [k, headDim]] as const) {
          const a = qkv[src + offset + 2 * j];
          const bb = qkv[src + offset + 2 * j + 1];
          target[dst + 2 * j] = a * c - bb * s;
          target[dst + 2 * j + 1] = a * s + bb * c;
        }
      }
      v.set(qkv.subarray(src + 2 * headDim, src + 3 * headDim), dst);
    }
  }
  return { q, k, v };
}

/**
 * Rotate-half RoPE (transformers' apply_rotary_pos_emb: ModernBERT, Llama) on x [H, N, D]: for
 * i < D/2 with (c, s) = rope[positions[t], i] (the ropeTable angles),
 *   x'[i] = x[i] c - x[i + D/2] s,  x'[i + D/2] = x[i + D/2] c + x[i] s.
 * Not a kernel: the GPU runs it as adjacent-pair RoPE on rows permuted by permuteRotateHalf.
 */
export function ropeRotateHalfRef(x: Float32Array, rope: Float32Array, positions: ArrayLike<number>, numHeads: number, headDim: number): Float32Array {
  const tokens = positions.length;
  const half = headDim / 2;
  const out = new Float32Array(x.length);
  for (let h = 0; h < numHeads; h++) {
    for (let t = 0; t < tokens; t++) {
      const base = (h * tokens + t) * headDim;
      const p = positions[t];
      for (let i = 0; i < half; i++) {
        const c = rope[(p * half + i) * 2];
        const s = rope[(p * half + i) * 2 + 1];
        out[base + i] = x[base + i] * c - x[base + i + half] * s;
        out[base + i + half] = x[base + i + half] * c + x[base + i] * s;
      }
    }
  }
  return out;
}

/**
 * softmax(q k^T / sqrt(D), masked keys -inf) v within each sequence; q, k, v [H, N, D],
 * keyMask [N] -> out [N, H*D]. Tokens outside every sequence are left zero. options.window = w:
 * query i sees only keys j with |i - j| <= w (sliding window, positions within the sequence). A
 * query with no unmasked key it may see gets zeros.
 */
export function attentionRef(
  q: Float32Array,
  k: Float32Array,
  v: Float32Array,
  keyMask: ArrayLike<number>,
  sequences: SequenceRange[],
  numHeads: number,
  headDim: number,
  options: { window?: number; relativeBias?: Float32Array } = {},
): Float32Array {
  const tokens = q.length / (numHeads * headDim);
  const out = new Float32Array(tokens * numHeads * headDim);
  const scale = 1 / Math.sqrt(headDim);
  const w = options.window ?? Infinity;
  const acc = new Float64Array(headDim);
  const bias = options.relativeBias;
  for (const { start, length: L } of sequences) {
    const scores = new Float64Array(L);
    for (let h = 0; h < numHeads; h++) {
      const base = h * tokens + start;
      for (let i = 0; i < L; i++) {
        const lo = Math.max(0, i - w);
        const hi = Math.min(L - 1, i + w);
        let max = -Infinity;
        for (let j = lo; j <= hi; j++) {
          if (!keyMask[start + j]) {
            scores[j] = -Infinity;
            continue;
          }
          let dot = 0;
          for (let d = 0; d < headDim; d++) dot += q[(base + i) * headDim + d] * k[(base + j) * headDim + d];
          scores[j] = dot * scale + (bias ? bias[mpnetRelativeBucket(i - j) * numHeads + h] : 0);
          max = Math.max(max, scores[j]);
        }
        if (max === -Infinity) continue; // no key to attend: zeros
        let sum = 0;
        for (let j = lo; j <= hi; j++) {
          scores[j] = Math.exp(scores[j] - max);
          sum += scores[j];
        }
        const dst = ((start + i) * numHeads + h) * headDim;
        // sum_j p_j v_j per dim, keys in order (rows of v read contiguously).
        acc.fill(0);
        for (let j = lo; j <= hi; j++) {
          const p = scores[j];
          const row = (base + j) * headDim;
          for (let d = 0; d < headDim; d++) acc[d] += p * v[row + d];
        }
        for (let d = 0; d < headDim; d++) out[dst + d] = acc[d] / sum;
      }
    }
  }
  return out;
}

/**
 * MPNet's relative position bucket of n = query index - key index: T5's bidirectional bucket with
 * 32 buckets and max_distance 128, written as MPNetEncoder.relative_position_bucket computes it
 * (the log in float32): keys after the query (n < 0) use buckets 16..31.
 */
export function mpnetRelativeBucket(n: number, numBuckets = 32, maxDistance = 128): number {
  const f = Math.fround;
  const half = numBuckets / 2;
  let bucket = n < 0 ? half : 0;
  const distance = Math.abs(n);
  const maxExact = half / 2;
  if (distance < maxExact) return bucket + distance;
  const large = maxExact + Math.trunc(f(f(f(Math.log(f(distance / maxExact))) / f(Math.log(f(maxDistance / maxExact)))) * (half - maxExact)));
  bucket += Math.min(large, half - 1);
  return bucket;
}

/**
 * DeBERTa disentangled attention, as transformers writes it: per head, scores[i, j] = (q_i . k_j
 * + q_i . Kr[idx] + k_j . Qr[idx]) * scale with idx = clamp(delta + span, 0, 2 span - 1), delta =
 * debertaLogBucket(i - j) (or i - j when bucketSize <= 0), span = relProj rows / 2; softmax over the
 * unmasked keys (a sequence without one gives zeros), times v. relProj [2, H, R, D] holds Kr then
 * Qr; q, k, v [H, N, D]; out [N, H*D].
 */
export function disentangledAttentionRef(
  q: Float32Array,
  k: Float32Array,
  v: Float32Array,
  relProj: Float32Array,
  keyMask: ArrayLike<number>,
  sequences: SequenceRange[],
  numHeads: number,
  headDim: number,
  options: { bucketSize: number; maxPosition: number; scale: number },
): Float32Array {
  const D = headDim;
  const tokens = q.length / (numHeads * D);
  const R = relProj.length / (2 * numHeads * D);
  const span = R / 2;
  const out = new Float32Array(tokens * numHeads * D);
  const dot = (a: Float32Array, ai: number, b: Float32Array, bi: number) => {
    let s = 0;
    for (let d = 0; d < D; d++) s += a[ai + d] * b[bi + d];
    return s;
  };
  for (const { start, length: L } of sequences) {
    const scores = new Float64Array(L);
    for (let h = 0; h < numHeads; h++) {
      const base = h * tokens + start;
      const kr = h * R;
      const qr = (numHeads + h) * R;
      for (let i = 0; i < L; i++) {
        let max = -Infinity;
        for (let j = 0; j < L; j++) {
          if (!keyMask[start + j]) {
            scores[j] = -Infinity;
            continue;
          }
          const delta = options.bucketSize > 0 ? debertaLogBucket(i - j, options.bucketSize, options.maxPosition) : i - j;
          const idx = Math.min(Math.max(delta + span, 0), 2 * span - 1);
          const c2p = dot(q, (base + i) * D, relProj, (kr + idx) * D);
          const p2c = dot(k, (base + j) * D, relProj, (qr + idx) * D);
          scores[j] = (dot(q, (base + i) * D, k, (base + j) * D) + c2p + p2c) * options.scale;
          max = Math.max(max, scores[j]);
        }
        if (max === -Infinity) continue;
        let sum = 0;
        for (let j = 0; j < L; j++) {
          scores[j] = Math.exp(scores[j] - max);
          sum += scores[j];
        }
        const dst = ((start + i) * numHeads + h) * D;
        for (let d = 0; d < D; d++) {
          let acc = 0;
          for (let j = 0; j < L; j++) acc += scores[j] * v[(base + j) * D + d];
          out[dst + d] = acc / sum;
        }
      }
    }
  }
  return out;
}

/** relative_scores.wgsl: out [2, H, N, R] = (q Kr^T, k Qr^T) per head; q, k [H, N, D], relProj [2, H, R, D]. */
export function relativeScoresRef(q: Float32Array, k: Float32Array, relProj: Float32Array, numHeads: number, headDim: number): Float32Array {
  const D = headDim;
  const N = q.length / (numHeads * D);
  const R = relProj.length / (2 * numHeads * D);
  const out = new Float32Array(2 * numHeads * N * R);
  for (let w = 0; w < 2; w++) {
    const a = w === 0 ? q : k;
    for (let h = 0; h < numHeads; h++) {
      for (let n = 0; n < N; n++) {
        for (let r = 0; r < R; r++) {
          let s = 0;
          for (let d = 0; d < D; d++) s += a[(h * N + n) * D + d] * relProj[((w * numHeads + h) * R + r) * D + d];
          out[((w * numHeads + h) * N + n) * R + r] = s;
        }
      }
    }
  }
  return out;
}

/** u [tokens, 2F] -> silu(u[:, :F]) * u[:, F:]. */
export function swigluRef(u: Float32Array, tokens: number, width: number): Float32Array {
  const out = new Float32Array(tokens * width);
  for (let t = 0; t < tokens; t++) {
    for (let j = 0; j < width; j++) {
      const gate = u[t * 2 * width + j];
      out[t * width + j] = (gate / (1 + Math.exp(-gate))) * u[t * 2 * width + width + j];
    }
  }
  return out;
}

/** u [tokens, 2F] -> act(u[:, :F]) * u[:, F:] (SwiGLU with silu, ModernBERT's GeGLU with gelu). */
export function gluRef(u: Float32Array, tokens: number, width: number, act: ActivationName): Float32Array {
  const out = new Float32Array(tokens * width);
  for (let t = 0; t < tokens; t++) {
    for (let j = 0; j < width; j++) {
      out[t * width + j] = activationRef(act, u[t * 2 * width + j]) * u[t * 2 * width + width + j];
    }
  }
  return out;
}

/** x [N, C] -> the CLS row and the masked mean of each sequence, each [S, C]. */
export function poolingRef(
  x: Float32Array,
  mask: ArrayLike<number>,
  sequences: SequenceRange[],
  hidden: number,
): { cls: Float32Array; mean: Float32Array } {
  const cls = new Float32Array(sequences.length * hidden);
  const mean = new Float32Array(sequences.length * hidden);
  sequences.forEach(({ start, length }, s) => {
    cls.set(x.subarray(start * hidden, (start + 1) * hidden), s * hidden);
    for (let c = 0; c < hidden; c++) {
      let sum = 0;
      let count = 0;
      for (let t = start; t < start + length; t++) {
        if (mask[t]) {
          sum += x[t * hidden + c];
          count++;
        }
      }
      mean[s * hidden + c] = sum / count;
    }
  });
  return { cls, mean };
}

/**
 * One sentence-transformers pooling mode (Pooling._forward_padded, v6.0.0) per sequence: x [N, C]
 * -> [S, C]. excluded[s] leading positions of sequence s leave the mask (include_prompt false);
 * weightedmean weights are the position in the sequence + 1. See kernels/sentence_pooling.wgsl.
 */
export function sentencePoolingRef(
  x: Float32Array,
  mask: ArrayLike<number>,
  sequences: SequenceRange[],
  hidden: number,
  mode: 'cls' | 'max' | 'mean' | 'mean_sqrt_len_tokens' | 'weightedmean' | 'lasttoken',
  excluded: ArrayLike<number> = [],
): Float32Array {
  const out = new Float32Array(sequences.length * hidden);
  sequences.forEach(({ start, length }, s) => {
    const kept: number[] = [];
    for (let t = start + Math.min(excluded[s] ?? 0, length); t < start + length; t++) if (mask[t]) kept.push(t);
    for (let c = 0; c < hidden; c++) {
      let value: number;
      if (mode === 'cls') value = x[(kept[0] ?? start) * hidden + c];
      else if (mode === 'lasttoken') value = x[(kept.at(-1) ?? start) * hidden + c];
      else if (mode === 'max') value = kept.reduce((m, t) => Math.max(m, x[t * hidden + c]), -3.4028234663852886e38);
      else {
        let sum = 0;
        let weight = 0;
        for (const t of kept) {
          const w = mode === 'weightedmean' ? t - start + 1 : 1;
          sum += w * x[t * hidden + c];
          weight += w;
        }
        const d = Math.max(weight, 1e-9);
        value = sum / (mode === 'mean_sqrt_len_tokens' ? Math.sqrt(d) : d);
      }
      out[s * hidden + c] = value;
    }
  });
  return out;
}

/** Rows scaled to unit L2 norm (torch.nn.functional.normalize, eps 1e-12). */
export function l2normRef(x: Float32Array, rows: number, cols: number): Float32Array {
  const out = new Float32Array(rows * cols);
  for (let r = 0; r < rows; r++) {
    let sum = 0;
    for (let c = 0; c < cols; c++) sum += x[r * cols + c] ** 2;
    const inv = 1 / Math.max(Math.sqrt(sum), 1e-12);
    for (let c = 0; c < cols; c++) out[r * cols + c] = x[r * cols + c] * inv;
  }
  return out;
}

export interface ForwardOutputs {
  lastHiddenState: Float32Array; // [B, L, C]
  pooledCls: Float32Array; // [B, C]
  pooledMean: Float32Array; // [B, C]
  logits: Float32Array | null; // [B, L, V] (MLM) or [B, labels] (classification)
}

/** The whole model on the CPU, composed from the functions above (spec: neobert-spec.md). */
export function referenceForward(
  config: NeoBERTConfig,
  weights: NeoBERTWeights,
  inputIds: ArrayLike<number>,
  attentionMask: ArrayLike<number>,
  batch: number,
  seqLen: number,
  /** logits: false skips the head (an MLM decoder is most of the work at long lengths). */
  options: { logits?: boolean } = {},
): ForwardOutputs {
  const { hiddenSize: C, numHeads: H, headDim: D, ffnWidth: F, normEps: eps } = config;
  const N = batch * seqLen;
  const rope = ropeTable(seqLen, D, config.ropeTheta);
  const sequences = paddedSequences(batch, seqLen);
  const positions = tokenPositions(sequences, N);
  let x = embeddingRef(inputIds, weights.embedding, C); // (N, C)
  for (const layer of weights.layers) {
    const h = rmsnormRef(x, layer.attentionNorm, N, C, eps); // (N, C)
    const qkv = matmulRef(h, layer.qkv, N, 3 * C, C); // (N, H*3*D)
    const { q, k, v } = ropeQkvRef(qkv, rope, positions, H, D); // (H, N, D) each
    const o = attentionRef(q, k, v, attentionMask, sequences, H, D); // (N, C)
    x = matmulRef(o, layer.wo, N, C, C, { residual: x }); // (N, C)
    const g = rmsnormRef(x, layer.ffnNorm, N, C, eps); // (N, C)
    const u = matmulRef(g, layer.w12, N, 2 * F, C); // (N, 2F)
    const s = swigluRef(u, N, F); // (N, F)
    x = matmulRef(s, layer.w3, N, C, F, { residual: x }); // (N, C)
  }
  const last = rmsnormRef(x, weights.finalNorm, N, C, eps); // (N, C)
  const { cls, mean } = poolingRef(last, attentionMask, sequences, C); // (B, C) x2
  let logits: Float32Array | null = null;
  const head = options.logits === false ? null : weights.head;
  if (head?.kind === 'mlm') {
    logits = matmulRef(last, head.weight, N, config.vocabSize, C, { bias: head.bias }); // (N, V)
  } else if (head?.kind === 'classification') {
    const dense = matmulRef(cls, head.denseWeight, batch, C, C, { bias: head.denseBias, activation: 'tanh' }); // (B, C)
    logits = matmulRef(dense, head.weight, batch, head.bias.length, C, { bias: head.bias }); // (B, labels)
  }
  return { lastHiddenState: last, pooledCls: cls, pooledMean: mean, logits };
}

/**
 * The per-row task LoRA term (kernels/lora.wgsl): out[m, n] = act(out[m, n] + sum_j z[m, t R + j]
 * b[t, n, j]) with t = tasks[m] (>= T: none), z [M, zStride], b [T, N, R]; returns a new array.
 */
export function loraRef(
  out: Float32Array,
  z: Float32Array,
  zStride: number,
  b: Float32Array,
  tasks: ArrayLike<number>,
  dims: { M: number; N: number; R: number; T: number },
  activation: ActivationName = 'none',
): Float32Array {
  const { M, N, R, T } = dims;
  const result = new Float32Array(M * N);
  for (let m = 0; m < M; m++) {
    const t = tasks[m];
    for (let n = 0; n < N; n++) {
      let v = out[m * N + n];
      if (t < T) {
        let delta = 0;
        for (let j = 0; j < R; j++) delta += z[m * zStride + t * R + j] * b[(t * N + n) * R + j];
        v += delta;
      }
      result[m * N + n] = activationRef(activation, v);
    }
  }
  return result;
}

/**
 * A task-adapted weight, as the reference merges it: W + scale * B_t @ A_t for a Linear
 * (W [N, K], A [T, R, K], B [T, N, R]); in float64, rounded once.
 */
export function mergeLoraRef(w: Float32Array, a: Float32Array, b: Float32Array, task: number, dims: { N: number; K: number; R: number }, scale: number): Float32Array {
  const { N, K, R } = dims;
  const out = new Float32Array(N * K);
  for (let n = 0; n < N; n++) {
    for (let k = 0; k < K; k++) {
      let d = 0;
      for (let j = 0; j < R; j++) d += b[(task * N + n) * R + j] * a[(task * R + j) * K + k];
      out[n * K + k] = w[n * K + k] + scale * d;
    }
  }
  return out;
}
