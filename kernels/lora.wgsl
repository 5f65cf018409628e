// lora: out[m, n] = act(out[m, n] + sum_{j < R} z[m, t R + j] * b[t, n, j]),  t = task[m]
//   The low-rank term of a task LoRA adapter (jina-embeddings-v3's LoRAParametrization) with one
//   task per row, so one batch can mix tasks. A Linear adapted by task t computes
//   x (W + s B_t A_t)^T + bias = (x W^T + bias) + (x A_t^T) (s B_t)^T: the model's plain matmul
//   writes x W^T + bias (+ residual) into out, a second small matmul writes z = x A_all^T for every
//   task at once (A_all = the T tasks' A stacked, [T R, K]), and this kernel adds each row's own
//   task's term in place. An Embedding's term is the same with z = rows of A gathered by token id
//   (its A and B roles are swapped in the checkpoint; the host transposes them to this layout).
//   b = s B, scaled at upload. A row whose task is >= T (no task) is left as act(out).
//   ACTIVATION (act() of the shared block matmul-activation): the matmul before runs without its
//   activation, because the adapter term goes inside it (fc1: gelu; the pooler: tanh).
// Layout:   z f32 [M, z_stride] (task t's R values at columns t R .. t R + R - 1, z_stride >= T R);
//           b f32 [T, N, R] row-major; task u32 [M]; out f32 [M, N], read and written in place.
// Dispatch: one workgroup of WG threads per row (folded into 2D for long batches); the threads
//           stride over the N columns. R products per element: ~R/K of the matmul's work.
// Numerics: f32 products and sum (j ascending), then one f32 add to out; act as in matmul.wgsl.
// Limits:   task values < T select a task, any other value none; R >= 1.
// Reference: loraRef in src/reference.ts.
override WG: u32 = 64u;
override ACTIVATION: u32 = 0u; // 0 none, 1 tanh, 2 gelu (erf), 3 gelu_tanh, 4 relu, 5 silu

struct Params { M: u32, N: u32, R: u32, T: u32, z_stride: u32 }

@group(0) @binding(0) var<uniform> params: Params;
@group(0) @binding(1) var<storage, read> z: array<f32>;
@group(0) @binding(2) var<storage, read> b: array<f32>;
@group(0) @binding(3) var<storage, read> task: array<u32>;
@group(0) @binding(4) var<storage, read_write> out: array<f32>;

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

@compute @workgroup_size(WG)
fn main(@builtin(workgroup_id) wid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>,
        @builtin(local_invocation_index) lid: u32) {
  let m = wid.x + wid.y * nwg.x;
  if (m >= params.M) { return; }
  let t = task[m];
  let R = params.R;
  let N = params.N;
  let row = m * N;
  if (t >= params.T) {
    if (ACTIVATION != 0u) {
      for (var n = lid; n < N; n += WG) { out[row + n] = act(out[row + n]); }
    }
    return;
  }
  let zRow = m * params.z_stride + t * R;
  let bTask = t * N * R;
  for (var n = lid; n < N; n += WG) {
    var delta = 0.0;
    let bRow = bTask + n * R;
    for (var j = 0u; j < R; j++) { delta += z[zRow + j] * b[bRow + j]; }
    out[row + n] = act(out[row + n] + delta);
  }
}
