// Host post-processing of read-back outputs: softmax, top-k, sigmoid.

export function softmaxInPlace(values: Float64Array): void {
  let max = -Infinity;
  for (const v of values) if (v > max) max = v;
  let sum = 0;
  for (let i = 0; i < values.length; i++) sum += values[i] = Math.exp(values[i] - max);
  for (let i = 0; i < values.length; i++) values[i] /= sum;
}

/** Indices of the k largest values, largest first (k is small: insertion into a sorted list). */
export function topKIndices(values: ArrayLike<number>, k: number): number[] {
  const best: number[] = [];
  for (let i = 0; i < values.length; i++) {
    const v = values[i];
    if (best.length === k && v <= values[best[k - 1]]) continue;
    let at = best.length;
    while (at > 0 && values[best[at - 1]] < v) at--;
    best.splice(at, 0, i);
    if (best.length > k) best.pop();
  }
  return best;
}


/** The logistic function, as transformers' sigmoid on a one-label cross-encoder's logit. */
export function sigmoid(x: number): number {
  return x >= 0 ? 1 / (1 + Math.exp(-x)) : Math.exp(x) / (1 + Math.exp(x));
}

/**
 * The first `dim` values of each of `rows` rows of width `width`, L2-normalised after truncating
 * when `normalize` (Matryoshka embeddings, as jina-embeddings-v3's encode(): normalise(x[:dim])).
 */
export function truncateRows(data: Float32Array, rows: number, width: number, dim: number, normalize: boolean): Float32Array {
  const out = new Float32Array(rows * dim);
  for (let r = 0; r < rows; r++) {
    const row = data.subarray(r * width, r * width + dim);
    let scale = 1;
    if (normalize) {
      let sq = 0;
      for (const v of row) sq += v * v;
      scale = 1 / Math.max(Math.sqrt(sq), 1e-12);
    }
    for (let j = 0; j < dim; j++) out[r * dim + j] = row[j] * scale;
  }
  return out;
}
