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
//           q, k, v f32 [H, N, D] (head-major, so attention reads contiguous key rows).
// Dispatch: one thread per (token, head, pair): ceil(N*H*D/2 / WG) workgroups, folded 2D.
// Limits:   HEAD_DIM even; positions < maxLen (checked on the host).
// Reference: ropeQkvRef in src/reference.ts.
override HEAD_DIM: u32;
override NUM_HEADS: u32;
override WG: u32 = 64u;
override ROPE: bool = true;

struct Params { tokens: u32 }

@group(0) @binding(0) var<uniform> params: Params;
@group(0) @binding(1) var<storage, read> qkv: array<vec2<f32>>;
@group(0) @binding(2) var<storage, read> rope: array<vec2<f32>>;
@group(0) @binding(3) var<storage, read> positions: array<u32>;
@group(0) @binding(4) var<storage, read_write> q: array<vec2<f32>>;
@group(0) @binding(5) var<storage, read_write> k: array<vec2<f32>>;
@group(0) @binding(6) var<storage, read_write> v: array<vec2<f32>>;

fn rotate(pair: vec2<f32>, cs: vec2<f32>) -> vec2<f32> {
  return vec2<f32>(pair.x * cs.x - pair.y * cs.y, pair.x * cs.y + pair.y * cs.x);
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
  if (ROPE) {
    let cs = rope[positions[token] * pairs + j];
    q[dst] = rotate(qkv[src], cs);
    k[dst] = rotate(qkv[src + pairs], cs);
  } else {
    q[dst] = qkv[src];
    k[dst] = qkv[src + pairs];
  }
  v[dst] = qkv[src + 2u * pairs];
}
