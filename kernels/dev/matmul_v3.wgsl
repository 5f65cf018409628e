// v3: one subgroup-sized workgroup (8 invocations) per 8-row x 32-column tile; invocation j owns
//     columns n0 + j + 8c (c < 4) of all 8 rows. Row addresses are the same for every invocation
//     (workgroup-uniform): a CPU driver loads them once and broadcasts; w rows are per invocation.
//     Measured: 2.35x v1 (GFLOP/s geomean at M = 128 on lavapipe, bench/matmul.ts; bench/results/matmul-ladder-mesa-llvmpipe-2026-11-29.txt).
//     The premise was wrong: Mesa 25.0's llvmpipe only treats constant (or push-constant)
//     addresses as uniform, not workgroup-uniform ones, so the row loads are per lane too.
// Math, layout, epilogues, limits: as kernels/matmul.wgsl (K % 4 == 0). Reference: matmulRef.
override HAS_BIAS: bool = false;
override HAS_RESIDUAL: bool = false;
override ACTIVATION: u32 = 0u;

const ROWS = 8u;
const COLS = 4u;
const WG = 8u;

struct Params { M: u32, N: u32, K: u32 }

@group(0) @binding(0) var<uniform> params: Params;
@group(0) @binding(1) var<storage, read> x: array<vec4<f32>>;
@group(0) @binding(2) var<storage, read> w: array<vec4<f32>>;
@group(0) @binding(3) var<storage, read> bias: array<f32>;
@group(0) @binding(4) var<storage, read> residual: array<f32>;
@group(0) @binding(5) var<storage, read_write> out: array<f32>;

@compute @workgroup_size(8)
fn main(@builtin(workgroup_id) wid: vec3<u32>, @builtin(local_invocation_index) lid: u32) {
  let K4 = params.K / 4u;
  let m0 = wid.y * ROWS;
  let n0 = wid.x * (WG * COLS) + lid;
  var wr: array<u32, COLS>;
  for (var c = 0u; c < COLS; c++) { wr[c] = min(n0 + c * WG, params.N - 1u) * K4; }
  var xr: array<u32, ROWS>;
  for (var i = 0u; i < ROWS; i++) { xr[i] = min(m0 + i, params.M - 1u) * K4; }
  var acc: array<array<f32, COLS>, ROWS>;
  for (var k = 0u; k < K4; k++) {
    var wv: array<vec4<f32>, COLS>;
    for (var c = 0u; c < COLS; c++) { wv[c] = w[wr[c] + k]; }
    for (var i = 0u; i < ROWS; i++) {
      let a = x[xr[i] + k];
      for (var c = 0u; c < COLS; c++) { acc[i][c] += dot(a, wv[c]); }
    }
  }
  for (var i = 0u; i < ROWS; i++) {
    let m = m0 + i;
    if (m >= params.M) { break; }
    for (var c = 0u; c < COLS; c++) {
      let n = n0 + c * WG;
      if (n >= params.N) { continue; }
      var v = acc[i][c];
      if (HAS_BIAS) { v += bias[n]; }
      if (ACTIVATION == 1u) { v = tanh(clamp(v, -15.0, 15.0)); }
      if (HAS_RESIDUAL) { v += residual[m * params.N + n]; }
      out[m * params.N + n] = v;
    }
  }
}
