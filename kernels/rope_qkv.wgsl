// rope_qkv: split the fused QKV projection per head and rotate q and k (RoPE).
//   qkv[t] is [H, 3, D] (per-head interleaved, from .view(L, H, 3D).chunk(3)): NOT [Q|K|V].
//   Models with separate q/k/v weights (BERT) or [Q|K|V] fused ones (ModernBERT) get this row
//   order at upload (interleaveQkvHeads in src/kernels.ts).
//   For head h, pair j (dims 2j, 2j+1), position p = positions[t], (c, s) = rope[p, j]:
//     a' = a*c - b*s,  b' = a*s + b*c    (adjacent pairs, not rotate-half; rotate-half RoPE
//     (ModernBERT) becomes this one by permuting q and k rows within each head at upload,
//     permuteRotateHalf in src/kernels.ts: scores q.k are invariant to a shared permutation)
//   ROPE false (BERT, RoBERTa, XLM-R: absolute positions): the split only, q and k unrotated;
//   rope and positions are not read (any buffer).
// Layout:   qkv f32 [N, H, 3, D] (N tokens, padded batch rows or packed sequences alike);
//           positions u32 [N] (position of each token inside its sequence, from the host);
//           rope vec2<f32> [maxLen, D/2] = (cos, sin), built on the host in f32 like
//           torch.outer(arange, inv_freq) (WGSL sin/cos lose accuracy near 4000 rad);
//           q, k, v [H, N, D] (head-major, so attention reads contiguous key rows) as raw 32-bit
//           words: f32, or (OUT_F16) IEEE halves, a pair per word (pack2x16float, element 2i in
//           the low half), for the f16 attention kernel (kernels/attention_f16.wgsl). Rotation in
//           f32 either way; OUT_F16 rounds the result (clamped to +-65504 first).
// Dispatch: one thread per (token, head, pair): ceil(N*H*D/2 / WG) workgroups, folded 2D.
// Limits:   HEAD_DIM even; positions < maxLen (checked on the host).
// Reference: ropeQkvRef in src/reference.ts.
override HEAD_DIM: u32;
override NUM_HEADS: u32;
override WG: u32 = 64u;
override ROPE: bool = true;
override OUT_F16: bool = false;

struct Params { tokens: u32 }

@group(0) @binding(0) var<uniform> params: Params;
@group(0) @binding(1) var<storage, read> qkv: array<vec2<f32>>;
@group(0) @binding(2) var<storage, read> rope: array<vec2<f32>>;
@group(0) @binding(3) var<storage, read> positions: array<u32>;
@group(0) @binding(4) var<storage, read_write> q: array<u32>;
@group(0) @binding(5) var<storage, read_write> k: array<u32>;
@group(0) @binding(6) var<storage, read_write> v: array<u32>;

fn rotate(pair: vec2<f32>, cs: vec2<f32>) -> vec2<f32> {
  return vec2<f32>(pair.x * cs.x - pair.y * cs.y, pair.x * cs.y + pair.y * cs.x);
}

const F16_MAX = 65504.0;

// Pair `pair` of a q/k/v row as stored: two f32 words, or one word of two halves.
fn words(pair: vec2<f32>) -> vec2<u32> {
  if (OUT_F16) { return vec2<u32>(pack2x16float(clamp(pair, vec2<f32>(-F16_MAX), vec2<f32>(F16_MAX))), 0u); }
  return bitcast<vec2<u32>>(pair);
}

@compute @workgroup_size(WG)
fn main(@builtin(workgroup_id) wid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>,
        @builtin(local_invocation_index) lid: u32) {
  let pairs = HEAD_DIM / 2u;
  let index = (wid.x + wid.y * nwg.x) * WG + lid;
  if (index >= params.tokens * NUM_HEADS * pairs) { return; }
  let j = index % pairs;
  let h = (index / pairs) % NUM_HEADS;
  let token = index / (pairs * NUM_HEADS);

  let src = (token * NUM_HEADS + h) * 3u * pairs + j;
  let dst = (h * params.tokens + token) * pairs + j;
  var qp = qkv[src];
  var kp = qkv[src + pairs];
  if (ROPE) {
    let cs = rope[positions[token] * pairs + j];
    qp = rotate(qp, cs);
    kp = rotate(kp, cs);
  }
  let qw = words(qp);
  let kw = words(kp);
  let vw = words(qkv[src + 2u * pairs]);
  if (OUT_F16) {
    q[dst] = qw.x;
    k[dst] = kw.x;
    v[dst] = vw.x;
  } else {
    q[2u * dst] = qw.x;
    q[2u * dst + 1u] = qw.y;
    k[2u * dst] = kw.x;
    k[2u * dst + 1u] = kw.y;
    v[2u * dst] = vw.x;
    v[2u * dst + 1u] = vw.y;
  }
}
