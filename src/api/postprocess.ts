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

/** The first `dim` columns of a row-major [rows, cols] matrix (truncate_dim, Matryoshka). */
export function truncateColumns(data: Float32Array, rows: number, cols: number, dim: number): Float32Array {
  if (dim >= cols) return data;
  const out = new Float32Array(rows * dim);
  for (let r = 0; r < rows; r++) out.set(data.subarray(r * cols, r * cols + dim), r * dim);
  return out;
}

/** Rows scaled to unit L2 norm in place (torch.nn.functional.normalize, eps 1e-12). */
export function normalizeRowsInPlace(data: Float32Array, rows: number, cols: number): void {
  for (let r = 0; r < rows; r++) {
    let sum = 0;
    for (let c = 0; c < cols; c++) sum += data[r * cols + c] ** 2;
    const inv = 1 / Math.max(Math.sqrt(sum), 1e-12);
    for (let c = 0; c < cols; c++) data[r * cols + c] *= inv;
  }
}

/** sentence-transformers' quantize_embeddings precisions (float32 = none). */
export type Precision = 'float32' | 'int8' | 'uint8' | 'binary' | 'ubinary';
export const PRECISIONS: readonly Precision[] = ['float32', 'int8', 'uint8', 'binary', 'ubinary'];

/**
 * quantize_embeddings (sentence-transformers 6.0.0 util/quantization.py:455-487) on one call's
 * embeddings [rows, cols], in float32 as numpy computes it. int8 / uint8: per-column ranges = min
 * and max over these rows, step = (max - min) / 255 (0 -> 1), q = clip(floor((x - min) / step),
 * 0, 255), int8 = q - 128. binary / ubinary: bit = x > 0, packed 8 per byte MSB first (the last
 * byte zero-padded), ubinary = the bytes, binary = bytes - 128. Returns the data and its width.
 */
export function quantizeEmbeddings(data: Float32Array, rows: number, cols: number, precision: 'int8' | 'uint8' | 'binary' | 'ubinary'): { data: Int8Array | Uint8Array; cols: number } {
  const f = Math.fround;
  if (precision === 'binary' || precision === 'ubinary') {
    const width = Math.ceil(cols / 8);
    const bytes = new Uint8Array(rows * width);
    for (let r = 0; r < rows; r++) {
      for (let c = 0; c < cols; c++) if (data[r * cols + c] > 0) bytes[r * width + (c >> 3)] |= 0x80 >> (c & 7);
    }
    if (precision === 'ubinary') return { data: bytes, cols: width };
    return { data: Int8Array.from(bytes, (b) => b - 128), cols: width };
  }
  const starts = new Float32Array(cols).fill(Infinity);
  const ends = new Float32Array(cols).fill(-Infinity);
  for (let r = 0; r < rows; r++) {
    for (let c = 0; c < cols; c++) {
      const v = data[r * cols + c];
      if (v < starts[c]) starts[c] = v;
      if (v > ends[c]) ends[c] = v;
    }
  }
  const steps = Float32Array.from(starts, (start, c) => f(f(ends[c] - start) / 255) || 1);
  const out = precision === 'uint8' ? new Uint8Array(rows * cols) : new Int8Array(rows * cols);
  const offset = precision === 'uint8' ? 0 : 128;
  for (let r = 0; r < rows; r++) {
    for (let c = 0; c < cols; c++) {
      const q = Math.min(255, Math.max(0, Math.floor(f(f(data[r * cols + c] - starts[c]) / steps[c]))));
      out[r * cols + c] = q - offset;
    }
  }
  return { data: out, cols };
}

/** SentenceTransformer.similarity between every row of a [n, d] and b [m, d]: [n][m]. */
export function similarityMatrix(fn: 'cosine' | 'dot' | 'euclidean' | 'manhattan', a: Float32Array[], b: Float32Array[]): number[][] {
  const norm = (v: Float32Array) => Math.max(Math.hypot(...v), 1e-12);
  const an = a.map(norm);
  const bn = b.map(norm);
  return a.map((x, i) =>
    b.map((y, j) => {
      let s = 0;
      for (let k = 0; k < x.length; k++) {
        if (fn === 'euclidean') s += (x[k] - y[k]) ** 2;
        else if (fn === 'manhattan') s += Math.abs(x[k] - y[k]);
        else s += x[k] * y[k];
      }
      if (fn === 'cosine') return s / (an[i] * bn[j]);
      if (fn === 'euclidean') return -Math.sqrt(s);
      if (fn === 'manhattan') return -s;
      return s;
    }),
  );
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
