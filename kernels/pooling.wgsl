// pooling: for each sequence s = (start, length):
//   cls[s, c] = x[start, c];  mean[s, c] = sum_t mask[t] * x[t, c] / sum_t mask[t], t in [start, start+length)
// Layout:   x f32 [N, C] (last_hidden_state over N tokens, padded rows or packed sequences);
//           mask u32 [N]; sequences vec4<u32> [S] = (start, length, valid, 0) from the host;
//           cls, mean f32 [S, C] (rows of invalid entries are left untouched).
// Dispatch: one thread per (sequence, channel): (ceil(C / WG), S) workgroups.
// Limits:   every valid sequence has at least one unmasked token (checked on the host).
// Reference: poolingRef in src/reference.ts.
override WG: u32 = 64u;

struct Params { hidden: u32 }

@group(0) @binding(0) var<uniform> params: Params;
@group(0) @binding(1) var<storage, read> x: array<f32>;
@group(0) @binding(2) var<storage, read> mask: array<u32>;
@group(0) @binding(3) var<storage, read> sequences: array<vec4<u32>>;
@group(0) @binding(4) var<storage, read_write> cls: array<f32>;
@group(0) @binding(5) var<storage, read_write> mean: array<f32>;

@compute @workgroup_size(WG)
fn main(@builtin(workgroup_id) wid: vec3<u32>, @builtin(local_invocation_index) lid: u32) {
  let c = wid.x * WG + lid;
  let s = wid.y;
  let sequence = sequences[s];
  if (c >= params.hidden || sequence.z == 0u) { return; }
  let C = params.hidden;
  var sum = 0.0;
  var count = 0.0;
  for (var t = sequence.x; t < sequence.x + sequence.y; t++) {
    if (mask[t] != 0u) {
      sum += x[t * C + c];
      count += 1.0;
    }
  }
  cls[s * C + c] = x[sequence.x * C + c];
  mean[s * C + c] = sum / count;
}
