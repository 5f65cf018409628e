// v2: register-blocked, no workgroup memory. Each invocation computes a 4 x 4 output block and
//     reads vec4s of x and w straight from the storage buffers (on a CPU driver the caches do the
//     tiling that workgroup memory does on a GPU). 8 x 8 invocations -> 32 x 32 tile.
//     Measured: 2.10x v1 (GFLOP/s geomean at M = 128 on lavapipe, bench/matmul.ts; bench/results/matmul-ladder-mesa-llvmpipe-2026-11-29.txt).
//     Each lane still loads 4 x rows and 4 w rows that its neighbours load too.
// Math, layout, epilogues, limits: as kernels/matmul.wgsl (K % 4 == 0). Reference: matmulRef.
override HAS_BIAS: bool = false;
override HAS_RESIDUAL: bool = false;
override ACTIVATION: u32 = 0u;

struct Params { M: u32, N: u32, K: u32 }

@group(0) @binding(0) var<uniform> params: Params;
@group(0) @binding(1) var<storage, read> x: array<vec4<f32>>;
@group(0) @binding(2) var<storage, read> w: array<vec4<f32>>;
@group(0) @binding(3) var<storage, read> bias: array<f32>;
@group(0) @binding(4) var<storage, read> residual: array<f32>;
@group(0) @binding(5) var<storage, read_write> out: array<f32>;

@compute @workgroup_size(8, 8)
fn main(@builtin(global_invocation_id) gid: vec3<u32>) {
  let K4 = params.K / 4u;
  let m0 = gid.y * 4u;
  let n0 = gid.x * 4u;
  // Clamp rows/cols so every load is in bounds; results of clamped lanes are dropped at the store.
  var xr: array<u32, 4>;
  var wr: array<u32, 4>;
  for (var i = 0u; i < 4u; i++) {
    xr[i] = min(m0 + i, params.M - 1u) * K4;
    wr[i] = min(n0 + i, params.N - 1u) * K4;
  }
  var acc: array<vec4<f32>, 4>;
  for (var k = 0u; k < K4; k++) {
    let w0 = w[wr[0] + k];
    let w1 = w[wr[1] + k];
    let w2 = w[wr[2] + k];
    let w3 = w[wr[3] + k];
    for (var i = 0u; i < 4u; i++) {
      let a = x[xr[i] + k];
      acc[i] += vec4<f32>(dot(a, w0), dot(a, w1), dot(a, w2), dot(a, w3));
    }
  }
  for (var i = 0u; i < 4u; i++) {
    let m = m0 + i;
    if (m >= params.M) { break; }
    for (var j = 0u; j < 4u; j++) {
      let n = n0 + j;
      if (n >= params.N) { break; }
      var v = acc[i][j];
      if (HAS_BIAS) { v += bias[n]; }
      if (ACTIVATION == 1u) { v = tanh(clamp(v, -15.0, 15.0)); }
      if (HAS_RESIDUAL) { v += residual[m * params.N + n]; }
      out[m * params.N + n] = v;
    }
  }
}
