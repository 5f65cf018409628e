// matmul (register tiles + subgroup broadcasts; the path for CPU adapters such as lavapipe):
//   out[m, n] = act(r[m] * sum_k x[m, k] * w[n, k] + bias[n]) + residual[m, n]
//   i.e. y = x W^T with W as stored in the checkpoint ([out, in]), PyTorch's nn.Linear.
//   NORM_ROWS: r[m] = 1 / sqrt(mean_k x[m, k]^2 + eps), else 1. With the RMSNorm gain folded
//   into W's columns on the host this is matmul(rmsnorm(x)) without the normalised copy of x.
//   act (ACTIVATION, see act() below): none, tanh, gelu (exact, erf), gelu_tanh, relu, silu.
//   GLU: W's rows (and bias) hold the two halves of a gated FFN interleaved (row 2f = row f of
//   the half that goes through act, row 2f + 1 = row f of the other; interleaveGateUp) and
//   out[m, f] = act(y[m, 2f] + bias[2f]) * (y[m, 2f + 1] + bias[2f + 1]), out [M, N/2]: the
//   FFN's first projection and its GLU in one pass. SwiGLU (NeoBERT: silu(w1 x) * (w2 x)) is
//   GLU with silu; GeGLU (ModernBERT: input, gate = Wi(x).chunk(2); gelu(input) * gate) with gelu.
//   Same bindings, epilogues and results as kernels/matmul.wgsl; MatmulKernel picks one of the
//   two at pipeline creation (see matmulStrategy in src/kernels.ts).
// Layout:   x f32 [M, K]; w [N, K] as raw 32-bit words: f32, or (W_F16) IEEE halves two per
//           u32, element 2i in the low half; bias, residual, out f32; all row-major.
// Dispatch: (ceil(N / 32), ceil(M / 64)) workgroups of 8 invocations = one subgroup. Lane l owns
//           rows m0 + l + 8i (i < 8) and all 32 columns of the tile: 256 accumulators. Why this
//           shape (measured in bench/matmul.ts, kernels/dev/matmul_v5..v8.wgsl): lavapipe runs a
//           subgroup as 8 SIMD lanes and turns every storage load into one bounds-checked
//           scalar load per lane and component, even when the address is the same in every
//           lane. So no lane loads what another lane also loads: a lane loads only its own x
//           rows, and the tile's 32 w rows are loaded once per subgroup (lane l: row n0 + l of
//           each group of 8) and handed to every lane with subgroupBroadcast, an in-register
//           permute. Each group of 8 columns is one call of group() with constant offsets, so
//           all accumulator indices are constants after inlining (past NIR's unroll limit a
//           loop here would index the accumulators dynamically, through scratch memory).
//           Measured on lavapipe, M = 128, NeoBERT shapes: 5.5x the tiled kernel's GFLOP/s
//           (geomean; 6.0x with f16 weights), bench/results/matmul-ladder-mesa-llvmpipe-2026-11-29.txt;
//           about 5x at M = 512 and 1024 too.
// Numerics: f32 arithmetic and accumulation; f16 weights are widened on load. NORM_ROWS sums
//           squares of the f32 x row (the residual stream reaches ~1300: never f16).
//           gelu: erf through an erfc fit (erfcPositive), within 2e-7 abs + rel of float64.
// Limits:   K % 4 == 0 (checked on the host); M, N arbitrary (N even with GLU); subgroups with at least 8
//           invocations (lavapipe: exactly 8); out must not alias x or residual.
// Reference: matmulRef in src/reference.ts (with W rounded to f16 for W_F16).
enable subgroups;

override HAS_BIAS: bool = false;
override HAS_RESIDUAL: bool = false;
override ACTIVATION: u32 = 0u; // 0 none, 1 tanh, 2 gelu (erf), 3 gelu_tanh, 4 relu, 5 silu
override W_F16: bool = false;
override NORM_ROWS: bool = false;
override GLU: bool = false;      // out[m, f] = act(y[m, 2f]) * y[m, 2f + 1]

const A = 8u;      // rows per lane: the tile has 8 * A = 64 rows
const Q = 8u;      // vec4 accumulators per row: the tile has 4 * Q = 32 columns

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

// acc[i][q0], acc[i][q0 + 1] += x rows . the 8 w rows that lanes 0..7 hold in wl.
fn group(acc: ptr<function, array<array<vec4<f32>, Q>, A>>, xv: ptr<function, array<vec4<f32>, A>>, wl: vec4<f32>, q0: u32) {
  let w0 = subgroupBroadcast(wl, 0u);
  let w1 = subgroupBroadcast(wl, 1u);
  let w2 = subgroupBroadcast(wl, 2u);
  let w3 = subgroupBroadcast(wl, 3u);
  let w4 = subgroupBroadcast(wl, 4u);
  let w5 = subgroupBroadcast(wl, 5u);
  let w6 = subgroupBroadcast(wl, 6u);
  let w7 = subgroupBroadcast(wl, 7u);
  for (var i = 0u; i < A; i++) {
    let a = (*xv)[i];
    (*acc)[i][q0] += vec4<f32>(dot(a, w0), dot(a, w1), dot(a, w2), dot(a, w3));
    (*acc)[i][q0 + 1u] += vec4<f32>(dot(a, w4), dot(a, w5), dot(a, w6), dot(a, w7));
  }
}

@compute @workgroup_size(8)
fn main(@builtin(workgroup_id) wid: vec3<u32>, @builtin(subgroup_invocation_id) lane: u32) {
  let K4 = params.K / 4u;
  let m0 = wid.y * 8u * A;
  let n0 = wid.x * 4u * Q;
  // Rows and columns past the edge are clamped (loads stay in bounds, results are dropped).
  var xr: array<u32, A>;
  for (var i = 0u; i < A; i++) { xr[i] = min(m0 + lane + 8u * i, params.M - 1u) * K4; }
  let wr0 = min(n0 + lane, params.N - 1u) * K4;
  let wr1 = min(n0 + 8u + lane, params.N - 1u) * K4;
  let wr2 = min(n0 + 16u + lane, params.N - 1u) * K4;
  let wr3 = min(n0 + 24u + lane, params.N - 1u) * K4;
  var acc: array<array<vec4<f32>, Q>, A>;
  var sumSquares: array<f32, A>; // of each x row, for NORM_ROWS (the rows are read here anyway)
  for (var k = 0u; k < K4; k++) {
    var xv: array<vec4<f32>, A>;
    for (var i = 0u; i < A; i++) { xv[i] = x[xr[i] + k]; }
    if (NORM_ROWS) {
      for (var i = 0u; i < A; i++) { sumSquares[i] += dot(xv[i], xv[i]); }
    }
    group(&acc, &xv, loadW(wr0 + k), 0u);
    group(&acc, &xv, loadW(wr1 + k), 2u);
    group(&acc, &xv, loadW(wr2 + k), 4u);
    group(&acc, &xv, loadW(wr3 + k), 6u);
  }

  // The epilogue loops run to bounds NIR cannot count, so they stay loops (unrolled, with the
  // per-lane scalarised stores, they made the shader 3x slower to compile) and index acc
  // dynamically, which keeps acc in memory rather than in LLVM's register allocator.
  let rows = min(A, (params.M - m0 + 7u) / 8u);
  let cols = min(4u * Q, params.N - n0);
  for (var i = 0u; i < rows; i++) {
    let m = m0 + lane + 8u * i;
    if (m >= params.M) { break; }
    var rowScale = 1.0;
    if (NORM_ROWS) { rowScale = inverseSqrt(sumSquares[i] / f32(params.K) + params.eps); }
    if (GLU) {
      // Column pairs (2f, 2f + 1) never straddle a tile: n0 and cols are even (N is, on the host).
      for (var c = 0u; c < cols; c += 2u) {
        var a = acc[i][c / 4u][c % 4u] * rowScale;
        var b = acc[i][c / 4u][c % 4u + 1u] * rowScale;
        if (HAS_BIAS) {
          a += bias[n0 + c];
          b += bias[n0 + c + 1u];
        }
        out[m * (params.N / 2u) + (n0 + c) / 2u] = act(a) * b;
      }
      continue;
    }
    for (var c = 0u; c < cols; c++) {
      let n = n0 + c;
      var v = acc[i][c / 4u][c % 4u] * rowScale;
      if (HAS_BIAS) { v += bias[n]; }
      v = act(v);
      if (HAS_RESIDUAL) { v += residual[m * params.N + n]; }
      out[m * params.out_stride + params.out_col0 + n] = v;
    }
  }
}
