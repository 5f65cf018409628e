// swiglu: out[t, j] = silu(u[t, j]) * u[t, F + j],  silu(a) = a / (1 + exp(-a))
//   u = g @ w12^T, where rows [0, F) of w12 are the gate and rows [F, 2F) the up projection.
// Layout:   u f32 [tokens, 2F]; out f32 [tokens, F].
// Dispatch: one thread per output element: ceil(tokens*F / WG) workgroups, folded 2D.
// Limits:   none beyond buffer sizes; exp(-a) overflowing to inf for a << 0 gives silu = -0.
// Reference: swigluRef in src/reference.ts.
override WG: u32 = 256u;

struct Params { tokens: u32, width: u32 }

@group(0) @binding(0) var<uniform> params: Params;
@group(0) @binding(1) var<storage, read> u: array<f32>;
@group(0) @binding(2) var<storage, read_write> out: array<f32>;

@compute @workgroup_size(WG)
fn main(@builtin(workgroup_id) wid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>,
        @builtin(local_invocation_index) lid: u32) {
  let index = (wid.x + wid.y * nwg.x) * WG + lid;
  if (index >= params.tokens * params.width) { return; }
  let t = index / params.width;
  let j = index % params.width;
  let gate = u[t * 2u * params.width + j];
  let up = u[t * 2u * params.width + params.width + j];
  out[index] = gate / (1.0 + exp(-gate)) * up;
}
