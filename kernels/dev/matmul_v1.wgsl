// v1: the original production kernel (shared-memory 64x64 tiles, 16x16 threads, 4x4 per thread).
//     Measured: 1.00x v1 (GFLOP/s geomean at M = 128 on lavapipe, bench/matmul.ts; bench/results/matmul-ladder-mesa-llvmpipe-2026-11-29.txt).
//     Every workgroup-memory access is a per-lane scalar loop on lavapipe; 2 barriers per 16 k.
// matmul: out[m, n] = act(sum_k x[m, k] * w[n, k] + bias[n]) + residual[m, n]
//   i.e. y = x W^T with W as stored in the checkpoint ([out, in]), PyTorch's nn.Linear.
//   bias, activation and residual are optional epilogues selected by override constants.
// Layout:   x f32 [M, K]; w f32 [N, K]; bias f32 [N]; residual, out f32 [M, N]; all row-major.
// Dispatch: (ceil(N / 64), ceil(M / 64)) workgroups of 16 x 16 threads; each thread owns a
//           4 x 4 block of the 64 x 64 output tile. K advances in steps of 16 through
//           workgroup-memory tiles stored k-major so the inner loop reads vec4s.
// Numerics: f32 accumulation.
// Limits:   K % 4 == 0 (vec4 loads; checked on the host); M, N arbitrary; out must not alias
//           x or residual (WebGPU forbids a writable binding aliasing another).
// Reference: matmulRef in src/reference.ts.
override HAS_BIAS: bool = false;
override HAS_RESIDUAL: bool = false;
override ACTIVATION: u32 = 0u; // 0: none, 1: tanh

const TILE = 64u;
const TILE_K = 16u;

struct Params { M: u32, N: u32, K: u32 }

@group(0) @binding(0) var<uniform> params: Params;
@group(0) @binding(1) var<storage, read> x: array<vec4<f32>>;
@group(0) @binding(2) var<storage, read> w: array<vec4<f32>>;
@group(0) @binding(3) var<storage, read> bias: array<f32>;
@group(0) @binding(4) var<storage, read> residual: array<f32>;
@group(0) @binding(5) var<storage, read_write> out: array<f32>;

// [TILE_K][TILE / 4] vec4s: element (k, 4*i + j) is tileX[k * 16 + i][j].
var<workgroup> tileX: array<vec4<f32>, 256>;
var<workgroup> tileW: array<vec4<f32>, 256>;

@compute @workgroup_size(16, 16)
fn main(@builtin(workgroup_id) wid: vec3<u32>, @builtin(local_invocation_id) lid3: vec3<u32>,
        @builtin(local_invocation_index) lid: u32) {
  let m0 = wid.y * TILE;
  let n0 = wid.x * TILE;
  let K4 = params.K / 4u;
  // Loader role: thread lid fetches one vec4 (4 consecutive k) of one tile row.
  let loadRow = lid / 4u;
  let loadK4 = lid % 4u;
  // Compute role: 4 rows starting at 4*ty, 4 columns starting at 4*tx.
  let tx = lid3.x;
  let ty = lid3.y;

  var acc: array<vec4<f32>, 4>;
  for (var k0 = 0u; k0 < K4; k0 += TILE_K / 4u) {
    let kq = k0 + loadK4;
    var xv = vec4<f32>(0.0);
    var wv = vec4<f32>(0.0);
    if (m0 + loadRow < params.M && kq < K4) { xv = x[(m0 + loadRow) * K4 + kq]; }
    if (n0 + loadRow < params.N && kq < K4) { wv = w[(n0 + loadRow) * K4 + kq]; }
    // Scatter the 4 k values to k-major slots (row loadRow = vec4 loadRow/4, lane loadRow%4).
    let slot = loadRow / 4u;
    let lane = loadRow % 4u;
    for (var j = 0u; j < 4u; j++) {
      let k = loadK4 * 4u + j;
      tileX[k * 16u + slot][lane] = xv[j];
      tileW[k * 16u + slot][lane] = wv[j];
    }
    workgroupBarrier();
    for (var k = 0u; k < TILE_K; k++) {
      let xs = tileX[k * 16u + ty];
      let ws = tileW[k * 16u + tx];
      acc[0] += xs[0] * ws;
      acc[1] += xs[1] * ws;
      acc[2] += xs[2] * ws;
      acc[3] += xs[3] * ws;
    }
    workgroupBarrier();
  }

  for (var i = 0u; i < 4u; i++) {
    let m = m0 + ty * 4u + i;
    if (m >= params.M) { break; }
    for (var j = 0u; j < 4u; j++) {
      let n = n0 + tx * 4u + j;
      if (n >= params.N) { break; }
      var v = acc[i][j];
      if (HAS_BIAS) { v += bias[n]; }
      // Clamped: some drivers compute tanh as a ratio of exponentials that overflows to NaN.
      if (ACTIVATION == 1u) { v = tanh(clamp(v, -15.0, 15.0)); }
      if (HAS_RESIDUAL) { v += residual[m * params.N + n]; }
      out[m * params.N + n] = v;
    }
  }
}
