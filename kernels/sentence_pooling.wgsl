// sentence_pooling: one pooling mode of sentence-transformers' Pooling module (v6.0.0
// sentence_transformer/modules/pooling.py _forward_padded), written into columns
// [out_col, out_col + C) of out, so several modes concatenate in one [S, modes * C] matrix.
// For each sequence s = (start, length, valid, excluded), token t in [start, start + length) is
// kept when mask[t] != 0 and t - start >= excluded (include_prompt false: the prompt's first
// `excluded` positions, [CLS] included, leave the pooling; the transformer still saw them):
//   MODE 0 cls:        x[first kept t]            (start when none is kept: argmax of a zero mask)
//   MODE 1 max:        max over kept t of x[t]    (the lowest f32 when none is kept; torch: -inf)
//   MODE 2 mean:       sum_kept x[t] / max(count, 1e-9)
//   MODE 3 mean_sqrt_len_tokens: sum_kept x[t] / sqrt(max(count, 1e-9))
//   MODE 4 weightedmean: sum_kept w_t x[t] / max(sum_kept w_t, 1e-9), w_t = t - start + 1
//                      (absolute position + 1, counted from [CLS] even when the prompt is excluded)
//   MODE 5 lasttoken:  x[last kept t]             (start when none is kept)
// Layout:   x f32 [N, C] (last_hidden_state, padded rows or packed sequences); mask u32 [N];
//           sequences vec4<u32> [S] from the host (PoolingKernel.sequenceTable);
//           out f32 [S, out_width] (rows of invalid sequences and other columns left untouched).
// Dispatch: one thread per (sequence, channel): (ceil(C / WG), S) workgroups.
// Numerics: f32 sums in token order.
// Limits:   out_col + C <= out_width.
// Reference: sentencePoolingRef in src/reference.ts.
override WG: u32 = 64u;
override MODE: u32 = 2u;

struct Params { hidden: u32, out_width: u32, out_col: u32 }

@group(0) @binding(0) var<uniform> params: Params;
@group(0) @binding(1) var<storage, read> x: array<f32>;
@group(0) @binding(2) var<storage, read> mask: array<u32>;
@group(0) @binding(3) var<storage, read> sequences: array<vec4<u32>>;
@group(0) @binding(4) var<storage, read_write> out: array<f32>;

@compute @workgroup_size(WG)
fn main(@builtin(workgroup_id) wid: vec3<u32>, @builtin(local_invocation_index) lid: u32) {
  let c = wid.x * WG + lid;
  let s = wid.y;
  let sequence = sequences[s];
  if (c >= params.hidden || sequence.z == 0u) { return; }
  let C = params.hidden;
  let start = sequence.x;
  let end = sequence.x + sequence.y;
  let first = start + min(sequence.w, sequence.y);
  var value = 0.0;
  if (MODE == 0u || MODE == 5u) {
    var row = start;
    var found = false;
    for (var t = first; t < end; t++) {
      if (mask[t] != 0u) {
        if (MODE == 0u && !found) { row = t; }
        if (MODE == 5u) { row = t; }
        found = true;
      }
    }
    value = x[row * C + c];
  } else if (MODE == 1u) {
    var best = -3.40282346638528859812e+38f; // WGSL has no -inf constant
    for (var t = first; t < end; t++) {
      if (mask[t] != 0u) { best = max(best, x[t * C + c]); }
    }
    value = best;
  } else {
    var sum = 0.0;
    var weight = 0.0;
    for (var t = first; t < end; t++) {
      if (mask[t] != 0u) {
        let w = select(1.0, f32(t - start + 1u), MODE == 4u);
        sum += w * x[t * C + c];
        weight += w;
      }
    }
    let denominator = max(weight, 1e-9);
    value = sum / select(denominator, sqrt(denominator), MODE == 3u);
  }
  out[s * params.out_width + params.out_col + c] = value;
}
