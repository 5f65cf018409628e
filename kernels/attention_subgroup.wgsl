// attention (register tiles + subgroup broadcasts; the path for CPU adapters such as lavapipe):
//   bidirectional softmax(q k^T / sqrt(D) + keyMask) v, per (sequence, head).
//   Same bindings, Params, tile table and output as kernels/attention.wgsl; AttentionKernel picks
//   one of the two at pipeline creation (strategy in src/kernels.ts). Keys whose attention_mask is
//   0 get probability 0; no causal mask; padded query rows are computed but meaningless.
//   Sliding window as in kernels/attention.wgsl: params.window = w (query i attends key j only if
//   |i - j| <= w) or WINDOW_GLOBAL; the key loop runs over [q0 - w, last query + w] only, keys
//   outside it are never loaded; a query row with no unmasked key in its window gets zeros.
//   Relative position bias (override REL_BIAS, MPNet): scores[i, j] += relBias[bucket(i - j), h]
//   (unscaled), bucket = relBucket below, computed per (query, key) pair from the positions within
//   the sequence, so no L x L bias exists in memory; relBias f32 [32, H] is MPNet's one shared
//   table (encoder.relative_attention_bias). REL_BIAS false (the default: every other model): the
//   branch folds away and binding 7 is a placeholder.
// Layout:   q, k, v f32 [H, N, D] over N tokens, sequences contiguous token ranges; keyMask u32
//           [N] (1 = attend); tiles vec4<u32> [maxTiles] = (sequence start token, sequence
//           length, first query of the tile, valid); out f32 [N, H, D] (= [N, C]);
//           params.window u32: half-window w, or WINDOW_GLOBAL.
// Dispatch: (maxTiles, H) workgroups of LANES invocations (override, 4 or 8) = one subgroup; a
//           workgroup whose tile is not valid exits. A workgroup owns the tile's 16 query rows:
//           lane l owns rows q0 + l + LANES * r for r < ROWS = 16 / LANES (2 rows with 8 lanes,
//           4 with 4), holding them pre-scaled and their f32 accumulators in private arrays
//           (sized MAX_ROWS = 4; only ROWS are used). Keys stream LANES at a time: lane l loads
//           key row key0 + l (clamped in bounds), its value row and its mask bit (0 past the
//           sequence), one vec4 at a time, and subgroupBroadcast with constant lanes hands each
//           vec4 to every lane, so no lane loads what another lane loads (lavapipe scalarises
//           every storage load per lane and component; see kernels/matmul_subgroup.wgsl). Per
//           row and block of LANES keys: LANES scores, an online softmax in registers (running
//           max, running sum, correction), acc = acc * correction + sum_j p_j v_j. Keys 4..7 of
//           a block (sB, okB, pB: broadcasts from lanes 4..7) exist only under
//           `if (LANES == 8u)`, a uniform override branch the compiler folds away. No workgroup
//           memory, no barriers; memory is O(L). Every private-array index is a constant once
//           the HEAD_DIM / 4 and ROWS loops unroll (override values are substituted before
//           compilation).
//           Measured on lavapipe (bench/attention.ts): 9.9-17x the tiled kernel's speed at H=4 D=16
//           and H=12 D=64, L = 128 / 512 (bench/results/attention-ladder-mesa-llvmpipe-2026-11-29.txt). Variants tried and dropped
//           (each within noise or slower): vec4 fma accumulators for the scores, explicit fma in
//           the value update, 16 or 32 keys per step (fewer softmax/rescale steps). Per query row
//           a workgroup of 32 rows (ROWS = 4) is 1.25x cheaper and one of 8 (ROWS = 1) 1.2x dearer,
//           but ROWS * LANES must equal BLOCK_Q, the tile table's 16 rows. LANES = 4 serves
//           adapters whose subgroups are 4 wide (SwiftShader); a workgroup of 4 on a wider
//           subgroup (lavapipe's 8) uses lanes 0..3 only, which the tests rely on.
// Numerics: f32 scores, softmax and accumulation; scores are computed in base 2 (q pre-scaled by
//           log2(e) / sqrt(D), exp2), the same softmax up to f32 rounding.
// Limits:   HEAD_DIM % 4 == 0 and HEAD_DIM <= 4 * MAX_QUADS = 64; subgroups of at least 8
//           LANES invocations (lanes 0..LANES-1 are broadcast; lavapipe: exactly 8, SwiftShader:
//           4); LANES is 4 or 8 (checked on the host); every sequence has at least one unmasked
//           key (checked on the host).
// Reference: attentionRef in src/reference.ts.
enable subgroups;

override HEAD_DIM: u32;
override NUM_HEADS: u32;
override REL_BIAS: bool = false; // MPNet relative position bias (binding 7)
override LANES: u32 = 8u; // invocations per workgroup = keys per block: 4 or 8
const BLOCK_Q = 16u;     // query rows per workgroup (AttentionKernel.BLOCK_Q: the tile table)
const MAX_ROWS = 4u;     // private arrays' row count: BLOCK_Q / 4, the most rows a lane owns
const MAX_QUADS = 16u;   // vec4s per row held in registers: head dim <= 64
const NEG_BIG = -3.0e38;
const LOG2E = 1.4426950408889634;
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

@compute @workgroup_size(LANES)
fn main(@builtin(workgroup_id) wid: vec3<u32>, @builtin(subgroup_invocation_id) lane: u32) {
  let tile = tiles[wid.x];
  if (tile.w == 0u) { return; } // uniform: every lane reads the same tile
  let quads = HEAD_DIM / 4u;
  let ROWS = BLOCK_Q / LANES; // query rows per lane (2 or 4): the tile table's 16 rows
  let start = tile.x; // first token of the sequence
  let L = tile.y;     // its length
  let q0 = tile.z;    // first query row (within the sequence) of this tile
  let h = wid.y;
  let headBase = h * params.tokens + start; // row of (h, sequence position 0) in q/k/v

  var qr: array<array<vec4<f32>, MAX_QUADS>, MAX_ROWS>;
  var acc: array<array<vec4<f32>, MAX_QUADS>, MAX_ROWS>;
  var rowMax: array<f32, MAX_ROWS>;
  var rowSum: array<f32, MAX_ROWS>;
  let qScale = params.scale * LOG2E;
  for (var r = 0u; r < ROWS; r++) {
    let row = min(q0 + LANES * r + lane, L - 1u); // rows past L are computed, not written
    for (var d = 0u; d < quads; d++) {
      qr[r][d] = q[(headBase + row) * quads + d] * qScale;
      acc[r][d] = vec4<f32>(0.0);
    }
    rowMax[r] = NEG_BIG;
    rowSum[r] = 0.0;
  }

  // Keys any query of the tile can see: [keyLo, keyHi). Keys past keyHi are never loaded.
  let windowed = params.window != WINDOW_GLOBAL;
  var keyLo = 0u;
  var keyHi = L;
  if (windowed) {
    let w = min(params.window, L);
    keyLo = select(0u, q0 - w, q0 > w);
    keyHi = min(L, min(q0 + BLOCK_Q, L) + w);
  }

  for (var key0 = keyLo; key0 < keyHi; key0 += LANES) {
    let key = key0 + lane;
    let kr = (headBase + min(key, keyHi - 1u)) * quads;
    var valid = 0u;
    if (key < keyHi) { valid = keyMask[start + key]; }
    let okA = vec4<u32>(subgroupBroadcast(valid, 0u), subgroupBroadcast(valid, 1u), subgroupBroadcast(valid, 2u), subgroupBroadcast(valid, 3u)) != vec4<u32>(0u);
    var okB = vec4<bool>(false); // keys 4..7: only with 8 lanes
    if (LANES == 8u) {
      okB = vec4<u32>(subgroupBroadcast(valid, 4u), subgroupBroadcast(valid, 5u), subgroupBroadcast(valid, 6u), subgroupBroadcast(valid, 7u)) != vec4<u32>(0u);
    }

    // Scores (base 2): sA[r] = keys 0..3 of the block, sB[r] = keys 4..7 (8 lanes only).
    var sA: array<vec4<f32>, MAX_ROWS>;
    var sB: array<vec4<f32>, MAX_ROWS>;
    // Zeroed explicitly: on Dawn + lavapipe a var declared in a loop body without an initializer
    // kept the previous iteration's value (WGSL says it is zero each time).
    for (var r = 0u; r < ROWS; r++) {
      sA[r] = vec4<f32>(0.0);
      sB[r] = vec4<f32>(0.0);
    }
    for (var d = 0u; d < quads; d++) {
      let kl = k[kr + d];
      let k0 = subgroupBroadcast(kl, 0u);
      let k1 = subgroupBroadcast(kl, 1u);
      let k2 = subgroupBroadcast(kl, 2u);
      let k3 = subgroupBroadcast(kl, 3u);
      for (var r = 0u; r < ROWS; r++) {
        let a = qr[r][d];
        sA[r] += vec4<f32>(dot(a, k0), dot(a, k1), dot(a, k2), dot(a, k3));
      }
      if (LANES == 8u) {
        let k4 = subgroupBroadcast(kl, 4u);
        let k5 = subgroupBroadcast(kl, 5u);
        let k6 = subgroupBroadcast(kl, 6u);
        let k7 = subgroupBroadcast(kl, 7u);
        for (var r = 0u; r < ROWS; r++) {
          let a = qr[r][d];
          sB[r] += vec4<f32>(dot(a, k4), dot(a, k5), dot(a, k6), dot(a, k7));
        }
      }
    }

    // MPNet's relative bias, in base 2 like the scores: keys key0 + c of this block.
    if (REL_BIAS) {
      for (var r = 0u; r < ROWS; r++) {
        let row = q0 + LANES * r + lane;
        sA[r] += LOG2E * vec4<f32>(relBias[relBucket(row, key0) * NUM_HEADS + h], relBias[relBucket(row, key0 + 1u) * NUM_HEADS + h],
                                   relBias[relBucket(row, key0 + 2u) * NUM_HEADS + h], relBias[relBucket(row, key0 + 3u) * NUM_HEADS + h]);
        if (LANES == 8u) {
          sB[r] += LOG2E * vec4<f32>(relBias[relBucket(row, key0 + 4u) * NUM_HEADS + h], relBias[relBucket(row, key0 + 5u) * NUM_HEADS + h],
                                     relBias[relBucket(row, key0 + 6u) * NUM_HEADS + h], relBias[relBucket(row, key0 + 7u) * NUM_HEADS + h]);
        }
      }
    }

    // Online softmax; masked keys get probability 0.
    var pA: array<vec4<f32>, MAX_ROWS>;
    var pB: array<vec4<f32>, MAX_ROWS>; // stays 0 with 4 lanes (okB false)
    var corr: array<f32, MAX_ROWS>;
    for (var r = 0u; r < ROWS; r++) {
      var rowA = okA;
      var rowB = okB;
      if (windowed) { // keys key0 + c of the block within |row - key| <= w of this row
        let row = vec4<u32>(q0 + LANES * r + lane);
        let w = vec4<u32>(params.window);
        let keysA = vec4<u32>(key0) + vec4<u32>(0u, 1u, 2u, 3u);
        let keysB = keysA + vec4<u32>(4u);
        rowA = okA & (max(row, keysA) - min(row, keysA) <= w);
        rowB = okB & (max(row, keysB) - min(row, keysB) <= w);
      }
      let mA = select(vec4<f32>(NEG_BIG), sA[r], rowA);
      let mB = select(vec4<f32>(NEG_BIG), sB[r], rowB);
      let m4 = max(mA, mB);
      let m = max(rowMax[r], max(max(m4.x, m4.y), max(m4.z, m4.w)));
      corr[r] = exp2(rowMax[r] - m);
      pA[r] = select(vec4<f32>(0.0), exp2(sA[r] - m), rowA);
      pB[r] = select(vec4<f32>(0.0), exp2(sB[r] - m), rowB);
      let p4 = pA[r] + pB[r];
      rowSum[r] = rowSum[r] * corr[r] + ((p4.x + p4.y) + (p4.z + p4.w));
      rowMax[r] = m;
    }

    // acc = acc * corr + sum_j p_j v_j.
    for (var d = 0u; d < quads; d++) {
      let vl = v[kr + d];
      let v0 = subgroupBroadcast(vl, 0u);
      let v1 = subgroupBroadcast(vl, 1u);
      let v2 = subgroupBroadcast(vl, 2u);
      let v3 = subgroupBroadcast(vl, 3u);
      if (LANES == 8u) {
        let v4 = subgroupBroadcast(vl, 4u);
        let v5 = subgroupBroadcast(vl, 5u);
        let v6 = subgroupBroadcast(vl, 6u);
        let v7 = subgroupBroadcast(vl, 7u);
        for (var r = 0u; r < ROWS; r++) {
          let a = pA[r];
          let b = pB[r];
          acc[r][d] = acc[r][d] * corr[r] + a.x * v0 + a.y * v1 + a.z * v2 + a.w * v3 + b.x * v4 + b.y * v5 + b.z * v6 + b.w * v7;
        }
      } else {
        for (var r = 0u; r < ROWS; r++) {
          let a = pA[r];
          acc[r][d] = acc[r][d] * corr[r] + a.x * v0 + a.y * v1 + a.z * v2 + a.w * v3;
        }
      }
    }
  }

  for (var r = 0u; r < ROWS; r++) {
    let row = q0 + LANES * r + lane;
    if (row < L) {
      let inv = select(0.0, 1.0 / rowSum[r], rowSum[r] > 0.0); // 0: a masked row, no key in its window
      for (var d = 0u; d < quads; d++) { out[((start + row) * NUM_HEADS + h) * quads + d] = acc[r][d] * inv; }
    }
  }
}
