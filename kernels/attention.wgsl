// attention: bidirectional softmax(q k^T / sqrt(D) + keyMask) v, per (sequence, head).
//   Keys whose attention_mask is 0 get -inf; no causal mask. Padded query rows are computed
//   (they attend to the valid keys) but are meaningless, as in the reference.
//   Sliding window (ModernBERT's local layers): params.window = w, query i attends key j only if
//   |i - j| <= w (positions within the sequence; w = local_attention / 2); WINDOW_GLOBAL
//   (0xFFFFFFFF) = every key. A workgroup streams only the keys its queries can see, [q0 - w,
//   last query + w], so a local layer costs O(L * w), not O(L^2). A query row with no unmasked
//   key in its window (only a masked row can be one: its own key is in its window) gets zeros,
//   not NaN (transformers gives such padding rows finite garbage; nothing reads them).
//   Relative position bias (override REL_BIAS, MPNet): scores[i, j] += relBias[bucket(i - j), h]
//   (unscaled), bucket = relBucket below, computed per (query, key) pair from the positions within
//   the sequence, so no L x L bias exists in memory; relBias f32 [32, H] is MPNet's one shared
//   table (encoder.relative_attention_bias). REL_BIAS false (the default: every other model): the
//   branch folds away and binding 7 is a placeholder.
// Layout:   q, k, v f32 [H, N, D] over N tokens, where sequences are contiguous token ranges
//           (rows of a padded batch, or packed sequences with no padding at all);
//           keyMask u32 [N] (1 = attend); tiles vec4<u32> [maxTiles] = (sequence start token,
//           sequence length, first query of the tile, valid), built on the host;
//           out f32 [N, H, D] (= [N, C], heads concatenated, ready for the wo projection).
//           params.window u32: half-window w, or WINDOW_GLOBAL.
// Dispatch: (maxTiles, H) workgroups of WG threads; a workgroup whose tile is not valid exits.
//           A workgroup owns BLOCK_Q query rows of one sequence; keys stream through workgroup memory BLOCK_K rows at a time with an online
//           softmax (running max, running sum, rescaled accumulator), so memory is O(L), never
//           L x L, and 4096-token sequences run within default limits. Each key tile runs in
//           three barrier-separated phases: scores (one thread per (query, key) pair), softmax
//           update (one thread per query row), accumulate (one thread per (query, dim/4)).
//           Everything per-row lives in workgroup memory, not private arrays: large private
//           arrays take minutes to compile on software drivers.
// Numerics: scores, softmax and accumulation in f32.
// Limits:   HEAD_DIM % 4 == 0; workgroup memory (2*BLOCK_K + 2*BLOCK_Q) * HEAD_DIM * 4 bytes +
//           BLOCK_Q * BLOCK_K * 4 must fit the device (checked on the host; D = 64 uses 17 KB);
//           every sequence has at least one unmasked key (checked on the host).
// Reference: attentionRef in src/reference.ts.
override HEAD_DIM: u32;
override NUM_HEADS: u32;
override REL_BIAS: bool = false; // MPNet relative position bias (binding 7)
const BLOCK_Q = 16u;
const BLOCK_K = 16u;
const WG = 64u;
const NEG_BIG = -3.0e38;
const WINDOW_GLOBAL = 0xFFFFFFFFu;

// BEGIN shared: attention-params (identical in every kernel that has it: test/wgsl-shared.test.ts)
struct Params { tokens: u32, scale: f32, window: u32 }

@group(0) @binding(0) var<uniform> params: Params;
// END shared: attention-params
@group(0) @binding(1) var<storage, read> q: array<vec4<f32>>;
@group(0) @binding(2) var<storage, read> k: array<vec4<f32>>;
@group(0) @binding(3) var<storage, read> v: array<vec4<f32>>;
// BEGIN shared: attention-tables (identical in every kernel that has it: test/wgsl-shared.test.ts)
@group(0) @binding(4) var<storage, read> keyMask: array<u32>;
@group(0) @binding(5) var<storage, read> tiles: array<vec4<u32>>;
@group(0) @binding(6) var<storage, read_write> out: array<vec4<f32>>;
@group(0) @binding(7) var<storage, read> relBias: array<f32>; // [32, H] with REL_BIAS, else a placeholder

// MPNet's relative position bias (REL_BIAS): T5's bidirectional bucket of n = row - key with 32
// buckets and max_distance 128, exactly as MPNet's compute_position_bias: 16 buckets per direction
// (16.. for keys after the query), distances 0..7 exact, then log-spaced: 8-11, 12-15, 16-22,
// 23-31, 32-45, 46-63, 64-90, >= 91 (the float32 log formula's thresholds, checked against it for
// every distance below 5000 by test/reference.test.ts; past 90 the bucket is saturated).
fn relBucket(row: u32, key: u32) -> u32 {
  let n = max(row, key) - min(row, key);
  var bucket = select(0u, 16u, key > row);
  if (n < 8u) { return bucket + n; }
  return bucket + 8u + u32(n >= 12u) + u32(n >= 16u) + u32(n >= 23u) + u32(n >= 32u) + u32(n >= 46u) + u32(n >= 64u) + u32(n >= 91u);
}
// END shared: attention-tables

var<workgroup> queryTile: array<vec4<f32>, BLOCK_Q * HEAD_DIM / 4u>;  // pre-scaled by 1/sqrt(D)
// Keys are stored dim-major (keyTile[d4 * BLOCK_K + j]) so that invocations working on
// consecutive keys read consecutive addresses in the score phase.
var<workgroup> keyTile: array<vec4<f32>, BLOCK_K * HEAD_DIM / 4u>;
var<workgroup> valueTile: array<vec4<f32>, BLOCK_K * HEAD_DIM / 4u>;
var<workgroup> accTile: array<vec4<f32>, BLOCK_Q * HEAD_DIM / 4u>;
var<workgroup> probs: array<f32, BLOCK_Q * BLOCK_K>;                 // scores, then exp(s - max)
var<workgroup> keyValid: array<u32, BLOCK_K>;
var<workgroup> rowMax: array<f32, BLOCK_Q>;
var<workgroup> rowSum: array<f32, BLOCK_Q>;
var<workgroup> rowCorrection: array<f32, BLOCK_Q>;

// BEGIN shared: attention-window-rule (identical in every kernel that has it: test/wgsl-shared.test.ts)
// Whether query row `row` may attend key `key` (same sequence) whose mask bit is `valid`.
fn attends(valid: u32, row: u32, key: u32) -> bool {
  return valid != 0u && (params.window == WINDOW_GLOBAL || max(row, key) - min(row, key) <= params.window);
}
// END shared: attention-window-rule

@compute @workgroup_size(WG)
fn main(@builtin(workgroup_id) wid: vec3<u32>, @builtin(local_invocation_index) lid: u32) {
  // BEGIN shared: attention-tile (identical in every kernel that has it: test/wgsl-shared.test.ts)
  let tile = tiles[wid.x];
  // The whole workgroup reads the same tile: this exit is uniform, before any barrier.
  if (tile.w == 0u) { return; }
  let quads = HEAD_DIM / 4u;
  let start = tile.x; // first token of the sequence
  let L = tile.y;     // its length
  let q0 = tile.z;    // first query row (within the sequence) of this tile
  let h = wid.y;
  let headBase = h * params.tokens + start; // row of (h, sequence position 0) in q/k/v
  // END shared: attention-tile

  for (var i = lid; i < BLOCK_Q * quads; i += WG) {
    let row = q0 + i / quads;
    var value = vec4<f32>(0.0);
    if (row < L) { value = q[(headBase + row) * quads + i % quads] * params.scale; }
    queryTile[i] = value;
    accTile[i] = vec4<f32>(0.0);
  }
  // BEGIN shared: attention-key-range (identical in every kernel that has it: test/wgsl-shared.test.ts)
  if (lid < BLOCK_Q) {
    rowMax[lid] = NEG_BIG;
    rowSum[lid] = 0.0;
  }

  // Keys any query of the tile can see: [keyLo, keyHi). Keys past keyHi are never loaded.
  var keyLo = 0u;
  var keyHi = L;
  if (params.window != WINDOW_GLOBAL) {
    let w = min(params.window, L);
    keyLo = select(0u, q0 - w, q0 > w);
    keyHi = min(L, min(q0 + BLOCK_Q, L) + w);
  }
  // END shared: attention-key-range

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
    // BEGIN shared: attention-key-valid (identical in every kernel that has it: test/wgsl-shared.test.ts)
    if (lid < BLOCK_K) {
      var valid = 0u;
      if (key0 + lid < keyHi) { valid = keyMask[start + key0 + lid]; }
      keyValid[lid] = valid;
    }
    // END shared: attention-key-valid
    workgroupBarrier();

    // Phase 1: scores s[i, j] = q_i . k_j (q already scaled) (+ the relative bias).
    for (var pair = lid; pair < BLOCK_Q * BLOCK_K; pair += WG) {
      let i = pair / BLOCK_K;
      let j = pair % BLOCK_K;
      var dot4 = vec4<f32>(0.0);
      for (var d = 0u; d < quads; d++) { dot4 += queryTile[i * quads + d] * keyTile[d * BLOCK_K + j]; }
      var score = dot4.x + dot4.y + dot4.z + dot4.w;
      if (REL_BIAS) { score += relBias[relBucket(q0 + i, key0 + j) * NUM_HEADS + h]; }
      probs[pair] = score;
    }
    workgroupBarrier();

    // BEGIN shared: attention-softmax-update (identical in every kernel that has it: test/wgsl-shared.test.ts)
    // Phase 2: online softmax update per query row; masked keys (and keys outside the row's
    // window) get probability 0.
    if (lid < BLOCK_Q) {
      let row = q0 + lid;
      let previousMax = rowMax[lid];
      var tileMax = previousMax;
      for (var j = 0u; j < BLOCK_K; j++) {
        if (attends(keyValid[j], row, key0 + j)) { tileMax = max(tileMax, probs[lid * BLOCK_K + j]); }
      }
      let correction = exp(previousMax - tileMax);
      var sum = rowSum[lid] * correction;
      for (var j = 0u; j < BLOCK_K; j++) {
        var p = 0.0;
        if (attends(keyValid[j], row, key0 + j)) { p = exp(probs[lid * BLOCK_K + j] - tileMax); }
        probs[lid * BLOCK_K + j] = p;
        sum += p;
      }
      rowMax[lid] = tileMax;
      rowSum[lid] = sum;
      rowCorrection[lid] = correction;
    }
    // END shared: attention-softmax-update
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

  // BEGIN shared: attention-output (identical in every kernel that has it: test/wgsl-shared.test.ts)
  for (var e = lid; e < BLOCK_Q * quads; e += WG) {
    let row = q0 + e / quads;
    if (row < L) {
      let sum = rowSum[e / quads]; // 0 only for a masked row with no unmasked key in its window
      out[((start + row) * NUM_HEADS + h) * quads + e % quads] = select(vec4<f32>(0.0), accTile[e] / sum, sum > 0.0);
    }
  }
  // END shared: attention-output
}
