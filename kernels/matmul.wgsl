// matmul (shared-memory tiles; the path for GPUs):
//   out[m, n] = act(r[m] * sum_k x[m, k] * w[n, k] + bias[n]) + residual[m, n]
//   i.e. y = x W^T with W as stored in the checkpoint ([out, in]), PyTorch's nn.Linear.
//   bias, activation and residual are optional epilogues selected by override constants.
//   NORM_ROWS: r[m] = 1 / sqrt(mean_k x[m, k]^2 + eps), else 1. With the RMSNorm gain folded
//   into W's columns on the host this is matmul(rmsnorm(x)) without the normalised copy of x.
//   act (ACTIVATION, see act() below): none, tanh, gelu (exact, erf), gelu_tanh, relu, silu.
//   GLU: W's rows (and bias) hold the two halves of a gated FFN interleaved (row 2f = row f of
//   the half that goes through act, row 2f + 1 = row f of the other; interleaveGateUp) and
//   out[m, f] = act(y[m, 2f] + bias[2f]) * (y[m, 2f + 1] + bias[2f + 1]), out [M, N/2]: the
//   FFN's first projection and its GLU in one pass. SwiGLU (NeoBERT: silu(w1 x) * (w2 x)) is
//   GLU with silu; GeGLU (ModernBERT: input, gate = Wi(x).chunk(2); gelu(input) * gate) with gelu.
//   kernels/matmul_subgroup.wgsl computes the same for CPU adapters (lavapipe), where every
//   workgroup-memory access here is a per-lane scalar loop: the subgroup one runs 5.5x this one's
//   GFLOP/s on lavapipe (geomean, bench/results/matmul-ladder-mesa-llvmpipe-2026-11-29.txt).
//   On GPUs this is the one to use.
// Layout:   x f32 [M, K]; w [N, K] as raw 32-bit words: f32, or (W_F16) IEEE halves two per
//           u32, element 2i in the low half; bias, residual, out f32; all row-major.
// Dispatch: (ceil(N / 64), ceil(M / 64)) workgroups of 16 x 16 threads; each thread owns a
//           4 x 4 block of the 64 x 64 output tile. K advances in steps of 16 through
//           workgroup-memory tiles stored k-major so the inner loop reads vec4s.
// Numerics: f32 arithmetic and accumulation; f16 weights are widened on load.
//           gelu: erf through an erfc fit (erfcPositive), within 2e-7 abs + rel of float64.
// Limits:   K % 4 == 0 (vec4 loads; checked on the host); M, N arbitrary (N even with GLU); out must not alias
//           x or residual (WebGPU forbids a writable binding aliasing another).
// Reference: matmulRef in src/reference.ts (with W rounded to f16 for W_F16).
override HAS_BIAS: bool = false;
override HAS_RESIDUAL: bool = false;
override ACTIVATION: u32 = 0u; // 0 none, 1 tanh, 2 gelu (erf), 3 gelu_tanh, 4 relu, 5 silu
override W_F16: bool = false;
override NORM_ROWS: bool = false;
override GLU: bool = false;      // out[m, f] = act(y[m, 2f]) * y[m, 2f + 1]

const TILE = 64u;
const TILE_K = 16u;

// BEGIN shared: matmul-params (identical in every kernel that has it: test/wgsl-shared.test.ts)
// out_stride / out_col0: out is [M, out_stride] and this dispatch writes its columns
// [out_col0, out_col0 + N) (a weight split in row chunks, e.g. a vocabulary-sized decoder); N and 0
// otherwise. Not combined with GLU or a residual (checked on the host).
struct Params { M: u32, N: u32, K: u32, eps: f32, out_stride: u32, out_col0: u32 }

@group(0) @binding(0) var<uniform> params: Params;
@group(0) @binding(1) var<storage, read> x: array<vec4<f32>>;
@group(0) @binding(2) var<storage, read> w: array<vec2<u32>>;
@group(0) @binding(3) var<storage, read> bias: array<f32>;
@group(0) @binding(4) var<storage, read> residual: array<f32>;
@group(0) @binding(5) var<storage, read_write> out: array<f32>;
// END shared: matmul-params

// BEGIN shared: matmul-activation (identical in every kernel that has it: test/wgsl-shared.test.ts)
// The epilogue activation. ACTIVATION (Hugging Face names):
//   1 tanh; 2 gelu: exact 0.5 v (1 + erf(v / sqrt 2)) (nn.GELU(), BERT's 'gelu');
//   3 gelu_tanh: 0.5 v (1 + tanh(sqrt(2 / pi) (v + 0.044715 v^3))) ('gelu_new',
//   'gelu_pytorch_tanh'); 4 relu; 5 silu: v / (1 + exp(-v)); 0 none.
const SQRT_HALF = 0.70710678118654752;
const SQRT_2_OVER_PI = 0.79788456080286536;

// erfc(z) for z >= 0 (WGSL has no erf): Numerical Recipes' erfcc, a Chebyshev fit of
// exp(z^2) erfc(z) in t = 1 / (1 + z/2) with fractional error < 1.2e-7 for every z >= 0, so the
// tail keeps its relative precision (erfc(7) ~ 4e-23, not 0 + rounding). Evaluated in f32 it keeps
// gelu within 2e-7 abs + 2e-7 rel of the float64 value over [-10, 10] (test/kernels.gpu.test.ts).
fn erfcPositive(z: f32) -> f32 {
  let t = 1.0 / (1.0 + 0.5 * z);
  var p = 0.17087277;
  p = p * t - 0.82215223;
  p = p * t + 1.48851587;
  p = p * t - 1.13520398;
  p = p * t + 0.27886807;
  p = p * t - 0.18628806;
  p = p * t + 0.09678418;
  p = p * t + 0.37409196;
  p = p * t + 1.00002368;
  p = p * t - 1.26551223;
  return t * exp(p - z * z);
}

// 0.5 v (1 + erf(v / sqrt 2)) = 0.5 v erfc(-v / sqrt 2), with erfc of a negative argument as
// 2 - erfc(|.|): no 1 + erf cancellation in the negative tail.
fn gelu(v: f32) -> f32 {
  let z = v * SQRT_HALF;
  let e = erfcPositive(abs(z));
  return 0.5 * v * select(2.0 - e, e, z <= 0.0);
}

fn act(v: f32) -> f32 {
  // tanh clamped: some drivers compute tanh as a ratio of exponentials that overflows to NaN.
  if (ACTIVATION == 1u) { return tanh(clamp(v, -15.0, 15.0)); }
  if (ACTIVATION == 2u) { return gelu(v); }
  if (ACTIVATION == 3u) { return 0.5 * v * (1.0 + tanh(clamp(SQRT_2_OVER_PI * (v + 0.044715 * v * v * v), -15.0, 15.0))); }
  if (ACTIVATION == 4u) { return max(v, 0.0); }
  if (ACTIVATION == 5u) { return v / (1.0 + exp(-v)); }
  return v;
}
// END shared: matmul-activation

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
    if (GLU) {
      // Column pairs (2f, 2f + 1) stay within a thread: n0 + tx * 4 is even (and N is, on the host).
      for (var j = 0u; j < 4u; j += 2u) {
        let n = n0 + tx * 4u + j;
        if (n >= params.N) { break; }
        var a = acc[i][j] * rowScale[i];
        var b = acc[i][j + 1u] * rowScale[i];
        if (HAS_BIAS) {
          a += bias[n];
          b += bias[n + 1u];
        }
        out[m * (params.N / 2u) + n / 2u] = act(a) * b;
      }
      continue;
    }
    for (var j = 0u; j < 4u; j++) {
      let n = n0 + tx * 4u + j;
      if (n >= params.N) { break; }
      var v = acc[i][j] * rowScale[i];
      if (HAS_BIAS) { v += bias[n]; }
      v = act(v);
      if (HAS_RESIDUAL) { v += residual[m * params.N + n]; }
      out[m * params.out_stride + params.out_col0 + n] = v;
    }
  }
}
