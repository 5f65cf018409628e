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
 * cos/sin table [maxLen, D/2, 2] in f32, as torch.outer(arange(maxLen), inv_freq) then cos/sin:
 * inv_freq = 1 / theta^(2j/D) computed in f32, angle = f32(p * inv_freq[j]) (NeoBERT and
 * ModernBERT's reference both form their angles this way).
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
