// v4: every storage load at a workgroup-uniform address. lavapipe scalarises a load whose address
//     differs per invocation (a bounds-checked scalar load per lane); a uniform one is one load
//     plus a broadcast. A workgroup is one 8-wide subgroup: lane l owns row m0 + l of an 8 x 16
//     output tile. Per k-step of 4 the 8 rows' vec4s of x are loaded uniformly and each lane keeps
//     its own with selects; each of the 16 w vec4s is a uniform load shared by all lanes.
//     Measured: 0.34x v1 (GFLOP/s geomean at M = 128 on lavapipe, bench/matmul.ts; bench/results/matmul-ladder-mesa-llvmpipe-2026-11-29.txt).
//     Dead end for the same reason as v3: the 'uniform' loads are per lane (8x the loads of v3).
// Math, layout, epilogues, limits: as kernels/matmul.wgsl (K % 4 == 0). Reference: matmulRef.
override HAS_BIAS: bool = false;
override HAS_RESIDUAL: bool = false;
override ACTIVATION: u32 = 0u;

const ROWS = 8u;  // = workgroup size: one row per invocation
const COLS = 16u; // columns per workgroup, every invocation computes all of them

struct Params { M: u32, N: u32, K: u32 }

@group(0) @binding(0) var<uniform> params: Params;
@group(0) @binding(1) var<storage, read> x: array<vec4<f32>>;
@group(0) @binding(2) var<storage, read> w: array<vec4<f32>>;
@group(0) @binding(3) var<storage, read> bias: array<f32>;
@group(0) @binding(4) var<storage, read> residual: array<f32>;
@group(0) @binding(5) var<storage, read_write> out: array<f32>;

@compute @workgroup_size(8)
fn main(@builtin(workgroup_id) wid: vec3<u32>, @builtin(local_invocation_index) lane: u32) {
  let K4 = params.K / 4u;
  let m0 = wid.y * ROWS;
  let n0 = wid.x * COLS;
  var acc: array<f32, COLS>;
  for (var k = 0u; k < K4; k++) {
    // This lane's x[m0 + lane, 4k .. 4k+3] from 8 uniform loads (rows clamped to M - 1).
    var xv = x[min(m0, params.M - 1u) * K4 + k];
    for (var i = 1u; i < ROWS; i++) {
      let r = x[min(m0 + i, params.M - 1u) * K4 + k];
      xv = select(xv, r, lane == i);
    }
    for (var c = 0u; c < COLS; c++) {
      acc[c] += dot(xv, w[min(n0 + c, params.N - 1u) * K4 + k]);
    }
  }
  let m = m0 + lane;
  if (m >= params.M) { return; }
  for (var c = 0u; c < COLS; c++) {
    let n = n0 + c;
    if (n >= params.N) { break; }
    var v = acc[c];
    if (HAS_BIAS) { v += bias[n]; }
    if (ACTIVATION == 1u) { v = tanh(clamp(v, -15.0, 15.0)); }
    if (HAS_RESIDUAL) { v += residual[m * params.N + n]; }
    out[m * params.N + n] = v;
  }
}
