// matmul (register tiles + subgroup broadcasts; the path for CPU adapters such as lavapipe):
//   out[m, n] = act(r[m] * sum_k x[m, k] * w[n, k] + bias[n]) + residual[m, n]
//   i.e. y = x W^T with W as stored in the checkpoint ([out, in]), PyTorch's nn.Linear.
//   NORM_ROWS: r[m] = 1 / sqrt(mean_k x[m, k]^2 + eps), else 1. With the RMSNorm gain folded
//   into W's columns on the host this is matmul(rmsnorm(x)) without the normalised copy of x.
//   SWIGLU: W's rows hold gate and up interleaved (row 2f gate f, 2f + 1 up f) and
//   out[m, f] = silu(y[m, 2f]) * y[m, 2f + 1], out [M, N/2]: the FFN's w12 + SwiGLU in one pass.
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
//           Measured on lavapipe, M = 128, NeoBERT shapes: 8.2 GFLOP/s geomean, 4.7x the tiled
//           kernel (8.6 and 4.9x with f16 weights); about 5x at M = 512 and 1024 too.
// Numerics: f32 arithmetic and accumulation; f16 weights are widened on load. NORM_ROWS sums
//           squares of the f32 x row (the residual stream reaches ~1300: never f16).
// Limits:   K % 4 == 0 (checked on the host); M, N arbitrary (N even with SWIGLU); subgroups with at least 8
//           invocations (lavapipe: exactly 8); out must not alias x or residual.
// Reference: matmulRef in src/reference.ts (with W rounded to f16 for W_F16).
enable subgroups;

override HAS_BIAS: bool = false;
override HAS_RESIDUAL: bool = false;
override ACTIVATION: u32 = 0u; // 0: none, 1: tanh
override W_F16: bool = false;
override NORM_ROWS: bool = false;
override SWIGLU: bool = false;

const A = 8u;      // rows per lane: the tile has 8 * A = 64 rows
const Q = 8u;      // vec4 accumulators per row: the tile has 4 * Q = 32 columns

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
    if (SWIGLU) {
      // Column pairs (gate, up) never straddle a tile: n0 and cols are even (N is, on the host).
      for (var c = 0u; c < cols; c += 2u) {
        let gate = acc[i][c / 4u][c % 4u] * rowScale;
        let up = acc[i][c / 4u][c % 4u + 1u] * rowScale;
        out[m * (params.N / 2u) + (n0 + c) / 2u] = gate / (1.0 + exp(-gate)) * up;
      }
      continue;
    }
    for (var c = 0u; c < cols; c++) {
      let n = n0 + c;
      var v = acc[i][c / 4u][c % 4u] * rowScale;
      if (HAS_BIAS) { v += bias[n]; }
      // Clamped: some drivers compute tanh as a ratio of exponentials that overflows to NaN.
      if (ACTIVATION == 1u) { v = tanh(clamp(v, -15.0, 15.0)); }
      if (HAS_RESIDUAL) { v += residual[m * params.N + n]; }
      out[m * params.N + n] = v;
    }
  }
}
