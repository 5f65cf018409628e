// rmsnorm: out[r, :] = x[r, :] / sqrt(mean(x[r, :]^2) + eps) * weight
//   The model runs it once per forward (the final norm); the norms inside layers are the
//   matmul's NORM_ROWS prologue (kernels/matmul*.wgsl).
// Layout:   x, out f32 [rows, cols] row-major; weight f32 [cols].
// Dispatch: ROW_PER_THREAD false (GPUs): one workgroup of WG threads per row, a strided pass
//           and a tree reduction in workgroup memory; folded into 2D for > 65535 rows.
//           ROW_PER_THREAD true (CPU adapters: lavapipe, SwiftShader): thread i of the grid owns
//           row i and loops over it, ceil(rows / WG) workgroups folded 2D. There a workgroup
//           runs as SIMD lanes plus a fibre switch per barrier, so the reduction's barriers cost
//           more than the arithmetic: measured 3-5x faster this way (see RMSNormKernel).
// Numerics: sum of squares accumulated in f32 (the real model's residual channels reach ~1300:
//           never f16 here).
// Limits:   WG a power of two; x and out are different buffers.
// Reference: rmsnormRef in src/reference.ts.
override WG: u32 = 256u;
override ROW_PER_THREAD: bool = false;

struct Params { rows: u32, cols: u32, eps: f32 }

@group(0) @binding(0) var<uniform> params: Params;
@group(0) @binding(1) var<storage, read> x: array<f32>;
@group(0) @binding(2) var<storage, read> weight: array<f32>;
@group(0) @binding(3) var<storage, read_write> out: array<f32>;

var<workgroup> partial: array<f32, WG>;

fn normalizeOwnRow(row: u32) {
  if (row >= params.rows) { return; }
  let base = row * params.cols;
  var sum = 0.0;
  for (var c = 0u; c < params.cols; c++) {
    let v = x[base + c];
    sum += v * v;
  }
  let inv = inverseSqrt(sum / f32(params.cols) + params.eps);
  for (var c = 0u; c < params.cols; c++) { out[base + c] = x[base + c] * inv * weight[c]; }
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
  var sum = 0.0;
  for (var c = lid; c < params.cols; c += WG) {
    let v = x[base + c];
    sum += v * v;
  }
  partial[lid] = sum;
  workgroupBarrier();
  for (var stride = WG / 2u; stride > 0u; stride /= 2u) {
    if (lid < stride) { partial[lid] += partial[lid + stride]; }
    workgroupBarrier();
  }
  let inv = inverseSqrt(partial[0] / f32(params.cols) + params.eps);
  for (var c = lid; c < params.cols; c += WG) {
    out[base + c] = x[base + c] * inv * weight[c];
  }
}
