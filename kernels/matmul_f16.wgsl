// matmul with f16 operands (shader-f16; the path for GPUs with dtype 'f16'):
//   out[m, n] = act(r[m] * sum_k x[m, k] * w[n, k] + bias[n]) + residual[m, n]
//   the same math, bindings, Params, epilogues (bias, act, GLU, residual) and NORM_ROWS prologue
//   as kernels/matmul.wgsl; MatmulKernel picks it with arithmetic: 'f16' (src/kernels.ts). A file
//   of its own because `enable f16;` does not compile on a device without shader-f16.
// Layout:   x f32 [M, K] (the residual stream or an f32 activation); w [N, K] as raw 32-bit words:
//           IEEE halves two per u32 (W_F16, element 2i in the low half) or f32; bias, residual,
//           out f32; all row-major.
// Dispatch: (ceil(N / TILE_N), ceil(M / TILE_M)) workgroups of (TILE_N / 4) x (TILE_M / 4)
//           threads, each owning a 4 x 4 block of the output tile. TILE_M and TILE_N are override
//           constants set by the host from MatmulKernel.TILES (the one place they are written
//           down; defaults 64 x 64 = 16 x 16 threads). K advances TILE_K = 16 at a time through
//           workgroup tiles of halves stored k-major (vec4<f16> reads in the inner loop): half the
//           bytes of matmul.wgsl's f32 tiles.
// Numerics: operands in f16: x is rounded to f16 as it enters the workgroup tile (clamped to
//           +-65504 first, so nothing becomes inf), w is f16 as stored (or rounded, for f32 W).
//           Products and accumulation in f32: a product of two halves is exact in f32 (11 + 11
//           significand bits), so this is what a tensor core computes (f16 inputs, exact products,
//           f32 sums), not f16 sums. NORM_ROWS sums squares of the f32 x row (before rounding): the
//           residual stream reaches ~1300, whose squares summed in f16 would overflow. Epilogue in
//           f32. Error: about 2^-11 relative per operand, i.e. rel L2 ~ 5e-4 on random data.
// Limits:   K % 4 == 0 (checked on the host); M, N arbitrary (N even with GLU); out must not alias
//           x or residual; the device must have shader-f16.
// Reference: matmulRef in src/reference.ts with x and W rounded to f16 (roundF16).
enable f16;

override HAS_BIAS: bool = false;
override HAS_RESIDUAL: bool = false;
override ACTIVATION: u32 = 0u; // 0 none, 1 tanh, 2 gelu (erf), 3 gelu_tanh, 4 relu, 5 silu
override W_F16: bool = true;
override NORM_ROWS: bool = false;
override GLU: bool = false;      // out[m, f] = act(y[m, 2f]) * y[m, 2f + 1]
override TILE_M: u32 = 64u;      // output rows per workgroup (a multiple of 4; host: MatmulKernel.TILES)
override TILE_N: u32 = 64u;      // output columns per workgroup (a multiple of 4)

const TILE_K = 16u;
const F16_MAX = 65504.0;

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

// w[n, 4q .. 4q+3] as halves, for i = n * K/4 + q.
fn loadW(i: u32) -> vec4<f16> {
  if (W_F16) { return bitcast<vec4<f16>>(w[i]); }
  let v = bitcast<vec4<f32>>(vec4<u32>(w[2u * i], w[2u * i + 1u]));
  return vec4<f16>(clamp(v, vec4<f32>(-F16_MAX), vec4<f32>(F16_MAX)));
}

// [TILE_K][TILE / 4] vec4s of halves: element (k, 4*i + j) is tileX[k * TILE_M / 4 + i][j].
var<workgroup> tileX: array<vec4<f16>, TILE_K * TILE_M / 4u>;
var<workgroup> tileW: array<vec4<f16>, TILE_K * TILE_N / 4u>;
// NORM_ROWS: partial sums of squares (f32), one per x loader slot (row, k quad): 4 per tile row.
var<workgroup> partialSquares: array<f32, TILE_M * 4u>;

@compute @workgroup_size(TILE_N / 4u, TILE_M / 4u)
fn main(@builtin(workgroup_id) wid: vec3<u32>, @builtin(local_invocation_id) lid3: vec3<u32>,
        @builtin(local_invocation_index) lid: u32) {
  let threads = (TILE_N / 4u) * (TILE_M / 4u);
  let m0 = wid.y * TILE_M;
  let n0 = wid.x * TILE_N;
  let K4 = params.K / 4u;
  let tx = lid3.x; // columns 4 tx .. 4 tx + 3 of the tile
  let ty = lid3.y; // rows 4 ty .. 4 ty + 3

  var acc: array<vec4<f32>, 4>;
  // NORM_ROWS: a thread's x loader slots s = lid + j * threads (j < TILE_M * 4 / threads =
  // 64 / TILE_N <= 4) are the same at every k step, so it sums their squares privately.
  var squares: array<f32, 4>;
  for (var k0 = 0u; k0 < K4; k0 += TILE_K / 4u) {
    // Loader: one (row, 4 consecutive k) slot at a time, scattered k-major.
    for (var s = lid; s < TILE_M * (TILE_K / 4u); s += threads) {
      let row = s / (TILE_K / 4u);
      let kq = k0 + s % (TILE_K / 4u);
      var xv = vec4<f32>(0.0);
      if (m0 + row < params.M && kq < K4) { xv = x[(m0 + row) * K4 + kq]; }
      if (NORM_ROWS) { squares[(s - lid) / threads] += dot(xv, xv); } // f32, before rounding
      let xh = vec4<f16>(clamp(xv, vec4<f32>(-F16_MAX), vec4<f32>(F16_MAX)));
      let k = (s % (TILE_K / 4u)) * 4u;
      for (var j = 0u; j < 4u; j++) { tileX[(k + j) * (TILE_M / 4u) + row / 4u][row % 4u] = xh[j]; }
    }
    for (var s = lid; s < TILE_N * (TILE_K / 4u); s += threads) {
      let row = s / (TILE_K / 4u);
      let kq = k0 + s % (TILE_K / 4u);
      var wv = vec4<f16>(0.0);
      if (n0 + row < params.N && kq < K4) { wv = loadW((n0 + row) * K4 + kq); }
      let k = (s % (TILE_K / 4u)) * 4u;
      for (var j = 0u; j < 4u; j++) { tileW[(k + j) * (TILE_N / 4u) + row / 4u][row % 4u] = wv[j]; }
    }
    workgroupBarrier();
    for (var k = 0u; k < TILE_K; k++) {
      let xs = vec4<f32>(tileX[k * (TILE_M / 4u) + ty]);
      let ws = vec4<f32>(tileW[k * (TILE_N / 4u) + tx]);
      acc[0] += xs[0] * ws;
      acc[1] += xs[1] * ws;
      acc[2] += xs[2] * ws;
      acc[3] += xs[3] * ws;
    }
    workgroupBarrier();
  }

  var rowScale = vec4<f32>(1.0);
  if (NORM_ROWS) {
    for (var s = lid; s < TILE_M * 4u; s += threads) { partialSquares[s] = squares[(s - lid) / threads]; }
    workgroupBarrier();
    for (var i = 0u; i < 4u; i++) {
      let r = 4u * (ty * 4u + i); // the 4 slots of tile row ty * 4 + i
      let total = (partialSquares[r] + partialSquares[r + 1u]) + (partialSquares[r + 2u] + partialSquares[r + 3u]);
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
