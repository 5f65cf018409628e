// pooling: cls[b, c] = x[b, 0, c];  mean[b, c] = sum_t mask[b, t] * x[b, t, c] / sum_t mask[b, t]
// Layout:   x f32 [B, L, C] (last_hidden_state); mask u32 [B, L]; cls, mean f32 [B, C].
// Dispatch: one thread per (b, c): (ceil(C / WG), B) workgroups; each thread walks the L rows.
// Limits:   every sequence has at least one unmasked token (checked on the host).
// Reference: poolingRef in src/reference.ts.
override WG: u32 = 64u;

struct Params { batch: u32, seqLen: u32, hidden: u32 }

@group(0) @binding(0) var<uniform> params: Params;
@group(0) @binding(1) var<storage, read> x: array<f32>;
@group(0) @binding(2) var<storage, read> mask: array<u32>;
@group(0) @binding(3) var<storage, read_write> cls: array<f32>;
@group(0) @binding(4) var<storage, read_write> mean: array<f32>;

@compute @workgroup_size(WG)
fn main(@builtin(workgroup_id) wid: vec3<u32>, @builtin(local_invocation_index) lid: u32) {
  let c = wid.x * WG + lid;
  let b = wid.y;
  if (c >= params.hidden) { return; }
  let C = params.hidden;
  let base = b * params.seqLen;
  var sum = 0.0;
  var count = 0.0;
  for (var t = 0u; t < params.seqLen; t++) {
    if (mask[base + t] != 0u) {
      sum += x[(base + t) * C + c];
      count += 1.0;
    }
  }
  cls[b * C + c] = x[base * C + c];
  mean[b * C + c] = sum / count;
}
