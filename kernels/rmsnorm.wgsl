// rmsnorm: out[r, :] = x[r, :] / sqrt(mean(x[r, :]^2) + eps) * weight
// Layout:   x, out f32 [rows, cols] row-major; weight f32 [cols].
// Dispatch: one workgroup of WG threads per row, folded into 2D for > 65535 rows.
// Numerics: sum of squares accumulated in f32 per thread, then a tree reduction
//           (the real model's residual channels reach ~1300: never f16 here).
// Limits:   WG a power of two; x and out are different buffers.
// Reference: rmsnormRef in src/reference.ts.
override WG: u32 = 256u;

struct Params { rows: u32, cols: u32, eps: f32 }

@group(0) @binding(0) var<uniform> params: Params;
@group(0) @binding(1) var<storage, read> x: array<f32>;
@group(0) @binding(2) var<storage, read> weight: array<f32>;
@group(0) @binding(3) var<storage, read_write> out: array<f32>;

var<workgroup> partial: array<f32, WG>;

@compute @workgroup_size(WG)
fn main(@builtin(workgroup_id) wid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>,
        @builtin(local_invocation_index) lid: u32) {
  let row = wid.x + wid.y * nwg.x;
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
