// matmul (shared-memory tiles; the path for GPUs):
//   out[m, n] = act(r[m] * sum_k x[m, k] * w[n, k] + bias[n]) + residual[m, n]
//   i.e. y = x W^T with W as stored in the checkpoint ([out, in]), PyTorch's nn.Linear.
//   bias, activation and residual are optional epilogues selected by override constants.
//   NORM_ROWS: r[m] = 1 / sqrt(mean_k x[m, k]^2 + eps), else 1. With the RMSNorm gain folded
//   into W's columns on the host this is matmul(rmsnorm(x)) without the normalised copy of x.
//   SWIGLU: W's rows hold gate and up interleaved (row 2f gate f, 2f + 1 up f) and
//   out[m, f] = silu(y[m, 2f]) * y[m, 2f + 1], out [M, N/2]: the FFN's w12 + SwiGLU in one pass.
//   kernels/matmul_subgroup.wgsl computes the same for CPU adapters (lavapipe), where every
//   workgroup-memory access here is a per-lane scalar loop: this kernel runs at 1.8 GFLOP/s on
//   lavapipe, the subgroup one at 8.2 (bench/matmul.ts). On GPUs this is the one to use.
// Layout:   x f32 [M, K]; w [N, K] as raw 32-bit words: f32, or (W_F16) IEEE halves two per
//           u32, element 2i in the low half; bias, residual, out f32; all row-major.
// Dispatch: (ceil(N / 64), ceil(M / 64)) workgroups of 16 x 16 threads; each thread owns a
//           4 x 4 block of the 64 x 64 output tile. K advances in steps of 16 through
//           workgroup-memory tiles stored k-major so the inner loop reads vec4s.
// Numerics: f32 arithmetic and accumulation; f16 weights are widened on load.
// Limits:   K % 4 == 0 (vec4 loads; checked on the host); M, N arbitrary (N even with SWIGLU); out must not alias
//           x or residual (WebGPU forbids a writable binding aliasing another).
// Reference: matmulRef in src/reference.ts (with W rounded to f16 for W_F16).
override HAS_BIAS: bool = false;
override HAS_RESIDUAL: bool = false;
override ACTIVATION: u32 = 0u; // 0: none, 1: tanh
override W_F16: bool = false;
override NORM_ROWS: bool = false;
override SWIGLU: bool = false;

const TILE = 64u;
const TILE_K = 16u;

struct Params { M: u32, N: u32, K: u32, eps: f32 }

@group(0) @binding(0) var<uniform> params: Params;
@group(0) @binding(1) var<storage, read> x: array<vec4<f32>>;
@group(0) @binding(2) var<storage, read> w: array<vec2<u32>>;
@group(0) @binding(3) var<storage, read> bias: array<f32>;
@group(0) @binding(4) var<storage, read> residual: array<f32>;
@group(0) @binding(5) var<storage, read_write> out: array<f32>;

// w[n, 4q .. 4q+3] as f32, for i = n * K/4 + q.
fn loadW(i: u32) -> vec4<f32> {
  if (W_F16) {
    let p = w[i];
    return vec4<f32>(unpack2x16float(p.x), unpack2x16float(p.y));
  }
  return bitcast<vec4<f32>>(vec4<u32>(w[2u * i], w[2u * i + 1u]));
}

// [TILE_K][TILE / 4] vec4s: element (k, 4*i + j) is tileX[k * 16 + i][j].
var<workgroup> tileX: array<vec4<f32>, 256>;
var<workgroup> tileW: array<vec4<f32>, 256>;
// NORM_ROWS: partial sums of squares, one per loader thread (4 per tile row).
var<workgroup> partialSquares: array<f32, 256>;

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
  var sumSquares = 0.0; // of this loader's slice of its x row, for NORM_ROWS
  for (var k0 = 0u; k0 < K4; k0 += TILE_K / 4u) {
    let kq = k0 + loadK4;
    var xv = vec4<f32>(0.0);
    var wv = vec4<f32>(0.0);
    if (m0 + loadRow < params.M && kq < K4) { xv = x[(m0 + loadRow) * K4 + kq]; }
    if (n0 + loadRow < params.N && kq < K4) { wv = loadW((n0 + loadRow) * K4 + kq); }
    if (NORM_ROWS) { sumSquares += dot(xv, xv); }
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

  var rowScale = vec4<f32>(1.0);
  if (NORM_ROWS) {
    partialSquares[lid] = sumSquares;
    workgroupBarrier();
    for (var i = 0u; i < 4u; i++) {
      let r = 4u * (ty * 4u + i); // the 4 loaders of tile row ty * 4 + i
      let total = partialSquares[r] + partialSquares[r + 1u] + partialSquares[r + 2u] + partialSquares[r + 3u];
      rowScale[i] = inverseSqrt(total / f32(params.K) + params.eps);
    }
  }

  for (var i = 0u; i < 4u; i++) {
    let m = m0 + ty * 4u + i;
    if (m >= params.M) { break; }
    if (SWIGLU) {
      // Column pairs (gate, up) stay within a thread: n0 + tx * 4 is even (and N is, on the host).
      for (var j = 0u; j < 4u; j += 2u) {
        let n = n0 + tx * 4u + j;
        if (n >= params.N) { break; }
        let gate = acc[i][j] * rowScale[i];
        let up = acc[i][j + 1u] * rowScale[i];
        out[m * (params.N / 2u) + n / 2u] = gate / (1.0 + exp(-gate)) * up;
      }
      continue;
    }
    for (var j = 0u; j < 4u; j++) {
      let n = n0 + tx * 4u + j;
      if (n >= params.N) { break; }
      var v = acc[i][j] * rowScale[i];
      if (HAS_BIAS) { v += bias[n]; }
      // Clamped: some drivers compute tanh as a ratio of exponentials that overflows to NaN.
      if (ACTIVATION == 1u) { v = tanh(clamp(v, -15.0, 15.0)); }
      if (HAS_RESIDUAL) { v += residual[m * params.N + n]; }
      out[m * params.N + n] = v;
    }
  }
}
