// l2norm: out[r, :] = x[r, :] / max(||x[r, :]||_2, 1e-12)   (torch.nn.functional.normalize)
// Layout:   x, out f32 [rows, cols].
// Dispatch: one workgroup of WG threads per row, folded 2D.
// Numerics: f32 sum of squares, tree reduction.
// Limits:   WG a power of two.
// Reference: l2normRef in src/reference.ts.
override WG: u32 = 64u;

struct Params { rows: u32, cols: u32 }

@group(0) @binding(0) var<uniform> params: Params;
@group(0) @binding(1) var<storage, read> x: array<f32>;
@group(0) @binding(2) var<storage, read_write> out: array<f32>;

var<workgroup> partial: array<f32, WG>;

@compute @workgroup_size(WG)
fn main(@builtin(workgroup_id) wid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>,
        @builtin(local_invocation_index) lid: u32) {
  let row = wid.x + wid.y * nwg.x;
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
  let inv = 1.0 / max(sqrt(partial[0]), 1e-12);
  for (var c = lid; c < params.cols; c += WG) {
    out[base + c] = x[base + c] * inv;
  }
}
