import { CheckpointError } from './errors';

// Host-side tables the runtime writes for the kernels: token ranges of sequences, position ids,
// RoPE cos/sin. (src/reference.ts, the CPU oracle, uses the same ones.)

/** A contiguous token range [start, start + length) holding one sequence. */
export interface SequenceRange {
  start: number;
  length: number;
}

/** Sequences of a right-padded [B, L] batch: row b is tokens [b*L, (b+1)*L). */
export function paddedSequences(batch: number, seqLen: number): SequenceRange[] {
  return Array.from({ length: batch }, (_, b) => ({ start: b * seqLen, length: seqLen }));
}

/**
 * Position id of every token: `offset` + its index inside its sequence (offset 0 for BERT, NeoBERT
 * and ModernBERT; pad_token_id + 1 for RoBERTa / XLM-R, whose real tokens count from there).
 */
export function tokenPositions(sequences: SequenceRange[], tokens: number, offset = 0): Uint32Array<ArrayBuffer> {
  const positions = new Uint32Array(tokens);
  for (const { start, length } of sequences) for (let p = 0; p < length; p++) positions[start + p] = offset + p;
  return positions;
}

/**
 * cos/sin table [maxLen, D/2, 2] in f32, as torch.outer(arange(maxLen), inv_freq) then cos/sin.
 * Every step rounds to f32 as torch does: inv_freq[j] = 1 / theta^(f32(2j / D)) with the power and
 * the reciprocal in f32, angle = f32(position * inv_freq[j]). That is both NeoBERT's
 * precompute_freqs_cis and transformers' default rotary embedding (ModernBERT: inv_freq from
 * arange(0, D, 2).float() / D, freqs = inv_freq @ position_ids in f32; cos/sin of the f32 angle,
 * attention_scaling 1), so one table serves both; cos/sin are exact (f64) roundings of the f32
 * angle, within an ulp of torch's f32 cos/sin.
 */
export function ropeTable(maxLen: number, headDim: number, theta: number): Float32Array<ArrayBuffer> {
  const pairs = headDim / 2;
  const table = new Float32Array(maxLen * pairs * 2);
  const invFreq = new Float32Array(pairs);
  // torch: 1.0 / (theta ** (arange(0, D, 2)[: D/2].float() / D)), in f32.
  for (let j = 0; j < pairs; j++) invFreq[j] = Math.fround(1 / Math.fround(theta ** Math.fround((2 * j) / headDim)));
  for (let p = 0; p < maxLen; p++) {
    for (let j = 0; j < pairs; j++) {
      const angle = Math.fround(p * invFreq[j]); // the f32 product torch.outer makes
      table[(p * pairs + j) * 2] = Math.cos(angle);
      table[(p * pairs + j) * 2 + 1] = Math.sin(angle);
    }
  }
  return table;
}

/**
 * RoPE inverse frequencies as torch forms `1.0 / (base ** (torch.arange(0, dim, 2).float() / dim))`
 * with a Python-float base: the exponent 2j/dim and the power in f32 (the base rounded to f32
 * first, as a wrapped scalar is), then the f32 reciprocal. `dim` is the rotary dim (NomicBERT:
 * head dim x rotary_emb_fraction; GTE: the head dim).
 */
export function ropeInverseFrequencies(dim: number, base: number): Float32Array<ArrayBuffer> {
  const f = Math.fround;
  const b = f(base);
  return Float32Array.from({ length: dim / 2 }, (_, j) => f(1 / f(b ** f((2 * j) / dim))));
}

/**
 * GTE's fixed NTK scaling (`rope_scaling {"type": "ntk", "factor": f}`, Alibaba-NLP/new-impl
 * NTKScalingRotaryEmbedding without mixed_b): its cache is built for max_position_embeddings * f
 * positions, more than max_position_embeddings, so at construction the frequencies become
 * inv_freq_j = 1 / (theta * f)^(2j/d) / f^(2/d), for every input length (not length-dependent).
 * theta * f and f^(2/d) are Python doubles; the division is an f32 tensor by a scalar.
 */
export function ntkInverseFrequencies(dim: number, theta: number, factor: number): Float32Array<ArrayBuffer> {
  const f = Math.fround;
  const divisor = f(factor ** (2 / dim));
  return ropeInverseFrequencies(dim, theta * factor).map((v) => f(v / divisor));
}

/**
 * NomicBERT's dynamic NTK base (contrastors NomicBertDynamicNTKRotaryEmbedding): when the config
 * sets rotary_scaling_factor f and the batch's padded length T exceeds max_trained_positions M,
 * base' = base * ((f * T / M) - (f - 1)) ^ (dim / (dim - 2)) in doubles, for the whole batch;
 * otherwise the base itself. The result depends on T, the batch's longest row, not a row's own
 * length: a text's embedding then depends on its batch mates (as in the reference).
 */
export function dynamicNtkBase(base: number, factor: number | null, paddedLength: number, maxTrained: number, dim: number): number {
  if (!factor || paddedLength <= maxTrained) return base;
  return base * ((factor * paddedLength) / maxTrained - (factor - 1)) ** (dim / (dim - 2));
}

/**
 * cos/sin table [rows, D/2, 2] for inverse frequencies `invFreq` (D/2 of them), angle =
 * f32(position * inv_freq[j]) as torch.outer / einsum form it in f32; cos/sin exact roundings of
 * the f32 angle (as ropeTable).
 */
export function ropeTableFromFrequencies(rows: number, invFreq: Float32Array): Float32Array<ArrayBuffer> {
  const pairs = invFreq.length;
  const table = new Float32Array(rows * pairs * 2);
  for (let p = 0; p < rows; p++) {
    for (let j = 0; j < pairs; j++) {
      const angle = Math.fround(p * invFreq[j]);
      table[(p * pairs + j) * 2] = Math.cos(angle);
      table[(p * pairs + j) * 2 + 1] = Math.sin(angle);
    }
  }
  return table;
}

/**
 * DeBERTa-v2's make_log_bucket_position for a relative position d = query - key: exact within
 * bucketSize / 2, then log-spaced (the log in float32 as the reference), sign kept. maxPosition
 * is max_relative_positions resolved (max_position_embeddings when -1).
 */
export function debertaLogBucket(d: number, bucketSize: number, maxPosition: number): number {
  const f = Math.fround;
  const mid = bucketSize >> 1;
  const abs = Math.abs(d);
  if (abs <= mid) return d;
  const logPos = Math.ceil(f(f(f(Math.log(f(abs / mid))) / f(Math.log(f((maxPosition - 1) / mid)))) * (mid - 1))) + mid;
  return Math.sign(d) * logPos;
}

/**
 * attention_disentangled.wgsl's bucketTable: entry n = min(|b(n)|, span) for relative distance n,
 * b = debertaLogBucket (bucketSize > 0, span = bucketSize) or the plain distance (span =
 * maxPosition), up to the first distance where it reaches span (every later one clamps the same).
 */
export function debertaBucketTable(bucketSize: number, maxPosition: number): { table: Uint32Array<ArrayBuffer>; span: number } {
  const span = bucketSize > 0 ? bucketSize : maxPosition;
  const entries: number[] = [];
  for (let n = 0; ; n++) {
    const b = Math.min(Math.abs(bucketSize > 0 ? debertaLogBucket(n, bucketSize, maxPosition) : n), span);
    entries.push(b);
    if (b >= span) break;
    if (n > 1 << 20) throw new CheckpointError(`DeBERTa relative positions: buckets ${bucketSize} / max position ${maxPosition} never reach the span ${span}`);
  }
  return { table: Uint32Array.from(entries), span };
}

/**
 * relative_scores.wgsl's row window: the relative rows [first, end) that sequences of at most
 * `maxLength` tokens reach (idx = span + b for keys before the query, span - b after, |b| the
 * bucket of the distance, at most maxLength - 1), from debertaBucketTable's table and span.
 */
export function relativeRowWindow(table: Uint32Array, span: number, maxLength: number): Uint32Array<ArrayBuffer> {
  const distance = Math.max(0, maxLength - 1);
  const b = table[Math.min(distance, table.length - 1)];
  return Uint32Array.from([span - Math.min(b, span), span + Math.min(b, span - 1) + 1, 0, 0]);
}
