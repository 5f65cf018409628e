// layernorm: out[r, :] = (x[r, :] - mean) / sqrt(var + eps) * weight (+ bias), per row
//   mean = sum(x[r, :]) / cols, var = sum((x[r, :] - mean)^2) / cols (biased, as nn.LayerNorm).
//   BERT / RoBERTa / XLM-R (eps 1e-12 / 1e-5, with bias) and ModernBERT (eps 1e-5, bias per
//   config.norm_bias) after the embeddings and in every layer.
// Layout:   x, out f32 [rows, cols] row-major; weight, bias f32 [cols] (bias only with HAS_BIAS;
//           an unused binding otherwise).
// Dispatch: ROW_PER_THREAD false (GPUs): one workgroup of WG threads per row; each pass is a
//           strided sum and a tree reduction in workgroup memory; folded into 2D for > 65535 rows.
//           ROW_PER_THREAD true (CPU adapters: lavapipe, SwiftShader): thread i of the grid owns
//           row i and loops over it, ceil(rows / WG) workgroups folded 2D (no barriers; see
//           kernels/rmsnorm.wgsl for why).
// Numerics: two passes in f32: the mean, then the sum of squared deviations from it (not
//           E[x^2] - mean^2, which cancels when |mean| >> std); rstd = inverseSqrt(var + eps).
//           The mean sums x - x[row, 0] (shifted data): a row whose mean is large against its
//           spread (outlier channels) then loses no more to rounding than a centred one; a plain
//           f32 running sum over 1001 values around 30 put the row-per-thread output 1.3e-5 off.
// Limits:   WG a power of two; x and out are different buffers.
// Reference: layerNormRef in src/reference.ts.
override WG: u32 = 256u;
override ROW_PER_THREAD: bool = false;
override HAS_BIAS: bool = false;

struct Params { rows: u32, cols: u32, eps: f32 }

@group(0) @binding(0) var<uniform> params: Params;
@group(0) @binding(1) var<storage, read> x: array<f32>;
@group(0) @binding(2) var<storage, read> weight: array<f32>;
@group(0) @binding(3) var<storage, read> bias: array<f32>;
@group(0) @binding(4) var<storage, read_write> out: array<f32>;

var<workgroup> partial: array<f32, WG>;

fn affine(v: f32, c: u32) -> f32 {
  if (HAS_BIAS) { return v * weight[c] + bias[c]; }
  return v * weight[c];
}

fn normalizeOwnRow(row: u32) {
  if (row >= params.rows) { return; }
  let base = row * params.cols;
  let shift = x[base];
  var sum = 0.0;
  for (var c = 0u; c < params.cols; c++) { sum += x[base + c] - shift; }
  let mean = shift + sum / f32(params.cols);
  var squares = 0.0;
  for (var c = 0u; c < params.cols; c++) {
    let d = x[base + c] - mean;
    squares += d * d;
  }
  let rstd = inverseSqrt(squares / f32(params.cols) + params.eps);
  for (var c = 0u; c < params.cols; c++) { out[base + c] = affine((x[base + c] - mean) * rstd, c); }
}

// Sum of `value` over the workgroup; every thread gets the total. Uniform control flow only.
fn workgroupSum(lid: u32, value: f32) -> f32 {
  partial[lid] = value;
  workgroupBarrier();
  for (var stride = WG / 2u; stride > 0u; stride /= 2u) {
    if (lid < stride) { partial[lid] += partial[lid + stride]; }
    workgroupBarrier();
  }
  let total = partial[0];
  workgroupBarrier(); // partial is reused by the next call
  return total;
}

@compute @workgroup_size(WG)
fn main(@builtin(workgroup_id) wid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>,
        @builtin(local_invocation_index) lid: u32) {
  let group = wid.x + wid.y * nwg.x;
  if (ROW_PER_THREAD) {
    normalizeOwnRow(group * WG + lid);
    return;
  }
  let row = group;
  // Uniform control flow: every thread of a workgroup shares `row`, so this exit is uniform.
  if (row >= params.rows) { return; }
  let base = row * params.cols;
  let shift = x[base];
  var sum = 0.0;
  for (var c = lid; c < params.cols; c += WG) { sum += x[base + c] - shift; }
  let mean = shift + workgroupSum(lid, sum) / f32(params.cols);
  var squares = 0.0;
  for (var c = lid; c < params.cols; c += WG) {
    let d = x[base + c] - mean;
    squares += d * d;
  }
  let rstd = inverseSqrt(workgroupSum(lid, squares) / f32(params.cols) + params.eps);
  for (var c = lid; c < params.cols; c += WG) { out[base + c] = affine((x[base + c] - mean) * rstd, c); }
}
