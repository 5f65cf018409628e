// attention_disentangled: DeBERTa-v2/v3 disentangled self-attention, per (sequence, head):
//   scores[i, j] = (q_i . k_j + c2p[i, idx(i, j)] + p2c[j, idx(i, j)]) * scale, scale = 1/sqrt(3 D),
//   softmax over the unmasked keys, times v. c2p = q Kr^T and p2c = k Qr^T come from
//   relative_scores.wgsl ([2, H, N, R], R = 2 * span relative rows); transformers gathers BOTH at
//   the same index idx(i, j) = clamp(b(i - j) + span, 0, 2 span - 1) (not the paper's delta(j, i)
//   for p2c), b = make_log_bucket_position. The kernel computes idx per (query, key) pair from
//   |i - j| through bucketTable (u32 [T]: min(|b(n)|, span) for n < T, the last entry repeats: the
//   host fills it in float32 as the reference, up to where the bucket saturates), so the lopsided
//   clamp is: i > j: span + min(|b|, span - 1); i <= j: span - min(|b|, span). The position terms
//   cost O(N * R) per head (in relative_scores) plus two gathers per score here; no L x L tensor.
//   Keys whose attention_mask is 0 get probability 0 (transformers: finfo.min); padded query rows
//   are computed but meaningless.
// Layout:   q, k, v f32 [H, N, D]; keyMask u32 [N]; tiles vec4<u32> [maxTiles] as attention.wgsl;
//           out f32 [N, H, D]; rel f32 [2, H, N, R] (c2p, p2c); bucketTable u32 [T].
//           params: tokens N, scale, span (R / 2), tableLength T.
// Dispatch: (maxTiles, H) workgroups of WG threads, the algorithm of kernels/attention.wgsl (global
//           attention: BLOCK_Q queries per workgroup, keys streamed BLOCK_K at a time with an online
//           softmax in workgroup memory), plus the two gathers in the score phase.
// Numerics: f32 throughout (also under f16 arithmetic: this kernel has no f16 variant).
// Limits:   HEAD_DIM % 4 == 0; workgroup memory as attention.wgsl (D = 64: 17 KB, checked on the
//           host); every sequence has at least one unmasked key (checked on the host).
// Reference: disentangledAttentionRef in src/reference.ts.
override HEAD_DIM: u32;
override NUM_HEADS: u32;
const BLOCK_Q = 16u;
const BLOCK_K = 16u;
const WG = 64u;
const NEG_BIG = -3.0e38;

struct Params { tokens: u32, scale: f32, span: u32, tableLength: u32 }

@group(0) @binding(0) var<uniform> params: Params;
@group(0) @binding(1) var<storage, read> q: array<vec4<f32>>;
@group(0) @binding(2) var<storage, read> k: array<vec4<f32>>;
@group(0) @binding(3) var<storage, read> v: array<vec4<f32>>;
@group(0) @binding(4) var<storage, read> keyMask: array<u32>;
@group(0) @binding(5) var<storage, read> tiles: array<vec4<u32>>;
@group(0) @binding(6) var<storage, read_write> out: array<vec4<f32>>;
@group(0) @binding(7) var<storage, read> rel: array<f32>;
@group(0) @binding(8) var<storage, read> bucketTable: array<u32>;

var<workgroup> queryTile: array<vec4<f32>, BLOCK_Q * HEAD_DIM / 4u>;  // pre-scaled
var<workgroup> keyTile: array<vec4<f32>, BLOCK_K * HEAD_DIM / 4u>;    // dim-major
var<workgroup> valueTile: array<vec4<f32>, BLOCK_K * HEAD_DIM / 4u>;
var<workgroup> accTile: array<vec4<f32>, BLOCK_Q * HEAD_DIM / 4u>;
var<workgroup> probs: array<f32, BLOCK_Q * BLOCK_K>;
var<workgroup> keyValid: array<u32, BLOCK_K>;
var<workgroup> rowMax: array<f32, BLOCK_Q>;
var<workgroup> rowSum: array<f32, BLOCK_Q>;
var<workgroup> rowCorrection: array<f32, BLOCK_Q>;

// The relative-embedding row both terms gather for query `row` and key `key` (positions within the sequence).
fn relIndex(row: u32, key: u32) -> u32 {
  let n = max(row, key) - min(row, key);
  let b = bucketTable[min(n, params.tableLength - 1u)];
  if (row > key) { return params.span + min(b, params.span - 1u); }
  return params.span - min(b, params.span);
}

@compute @workgroup_size(WG)
fn main(@builtin(workgroup_id) wid: vec3<u32>, @builtin(local_invocation_index) lid: u32) {
  let tile = tiles[wid.x];
  // The whole workgroup reads the same tile: this exit is uniform, before any barrier.
  if (tile.w == 0u) { return; }
  let quads = HEAD_DIM / 4u;
  let start = tile.x; // first token of the sequence
  let L = tile.y;     // its length
  let q0 = tile.z;    // first query row (within the sequence) of this tile
  let h = wid.y;
  let headBase = h * params.tokens + start; // row of (h, sequence position 0) in q/k/v

  for (var i = lid; i < BLOCK_Q * quads; i += WG) {
    let row = q0 + i / quads;
    var value = vec4<f32>(0.0);
    if (row < L) { value = q[(headBase + row) * quads + i % quads] * params.scale; }
    queryTile[i] = value;
    accTile[i] = vec4<f32>(0.0);
  }
  if (lid < BLOCK_Q) {
    rowMax[lid] = NEG_BIG;
    rowSum[lid] = 0.0;
  }

  let keyLo = 0u;
  let keyHi = L;
  let R = 2u * params.span;
  let c2pBase = h * params.tokens + start;                 // rel row of (c2p, h, sequence position 0)
  let p2cBase = (NUM_HEADS + h) * params.tokens + start;   // rel row of (p2c, h, sequence position 0)

  for (var key0 = keyLo; key0 < keyHi; key0 += BLOCK_K) {
    for (var i = lid; i < BLOCK_K * quads; i += WG) {
      let key = key0 + i / quads;
      var kv = vec4<f32>(0.0);
      var vv = vec4<f32>(0.0);
      if (key < keyHi) {
        kv = k[(headBase + key) * quads + i % quads];
        vv = v[(headBase + key) * quads + i % quads];
      }
      keyTile[(i % quads) * BLOCK_K + i / quads] = kv;
      valueTile[i] = vv;
    }
    if (lid < BLOCK_K) {
      var valid = 0u;
      if (key0 + lid < keyHi) { valid = keyMask[start + key0 + lid]; }
      keyValid[lid] = valid;
    }
    workgroupBarrier();

    // Phase 1: scores s[i, j] = q_i . k_j + (c2p + p2c) * scale (q already scaled).
    for (var pair = lid; pair < BLOCK_Q * BLOCK_K; pair += WG) {
      let i = pair / BLOCK_K;
      let j = pair % BLOCK_K;
      var dot4 = vec4<f32>(0.0);
      for (var d = 0u; d < quads; d++) { dot4 += queryTile[i * quads + d] * keyTile[d * BLOCK_K + j]; }
      var score = dot4.x + dot4.y + dot4.z + dot4.w;
      let row = min(q0 + i, L - 1u);     // rows past L are computed, never written
      let key = min(key0 + j, L - 1u);   // keys past L are masked
      let idx = relIndex(row, key);
      score += (rel[(c2pBase + row) * R + idx] + rel[(p2cBase + key) * R + idx]) * params.scale;
      probs[pair] = score;
    }
    workgroupBarrier();

    // Phase 2: online softmax update per query row; masked keys get probability 0.
    if (lid < BLOCK_Q) {
      let previousMax = rowMax[lid];
      var tileMax = previousMax;
      for (var j = 0u; j < BLOCK_K; j++) {
        if (keyValid[j] != 0u) { tileMax = max(tileMax, probs[lid * BLOCK_K + j]); }
      }
      let correction = exp(previousMax - tileMax);
      var sum = rowSum[lid] * correction;
      for (var j = 0u; j < BLOCK_K; j++) {
        var p = 0.0;
        if (keyValid[j] != 0u) { p = exp(probs[lid * BLOCK_K + j] - tileMax); }
        probs[lid * BLOCK_K + j] = p;
        sum += p;
      }
      rowMax[lid] = tileMax;
      rowSum[lid] = sum;
      rowCorrection[lid] = correction;
    }
    workgroupBarrier();

    // Phase 3: acc[i, :] = acc[i, :] * correction_i + sum_j p[i, j] v_j.
    for (var e = lid; e < BLOCK_Q * quads; e += WG) {
      let i = e / quads;
      let d = e % quads;
      var a = accTile[e] * rowCorrection[i];
      for (var j = 0u; j < BLOCK_K; j++) { a += probs[i * BLOCK_K + j] * valueTile[j * quads + d]; }
      accTile[e] = a;
    }
    workgroupBarrier();
  }

  for (var e = lid; e < BLOCK_Q * quads; e += WG) {
    let row = q0 + e / quads;
    if (row < L) {
      let sum = rowSum[e / quads]; // 0 only for a sequence without an unmasked key (refused on the host)
      out[((start + row) * NUM_HEADS + h) * quads + e % quads] = select(vec4<f32>(0.0), accTile[e] / sum, sum > 0.0);
    }
  }
}
