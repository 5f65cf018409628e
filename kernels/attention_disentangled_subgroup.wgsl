// attention_disentangled_subgroup: DeBERTa's disentangled attention (the math, layout, bindings,
//   Params and bucket rule of kernels/attention_disentangled.wgsl, whose header describes them) on
//   the register-tile design of kernels/attention_subgroup.wgsl (the path for CPU adapters such as
//   lavapipe: one subgroup of LANES lanes per tile of 16 queries, keys broadcast LANES at a time,
//   online softmax in registers, no workgroup memory); the c2p / p2c terms are gathered per
//   (query row, key) of each block and added to the base-2 scores.
// Layout:   as attention_disentangled.wgsl: q, k, v f32 [H, N, D]; keyMask u32 [N]; tiles; out f32
//           [N, H, D]; rel f32 [2, H, N, R]; bucketTable u32 [T].
// Dispatch: (maxTiles, H) workgroups of LANES invocations (4 or 8, checked on the host).
// Numerics: f32; base-2 scores (q pre-scaled by scale * log2(e), the position terms by the same).
// Limits:   HEAD_DIM % 4 == 0 and HEAD_DIM <= 64; subgroups of at least LANES invocations; every
//           sequence has at least one unmasked key (checked on the host).
// Reference: disentangledAttentionRef in src/reference.ts.
enable subgroups;

override HEAD_DIM: u32;
override NUM_HEADS: u32;
override LANES: u32 = 8u;
const BLOCK_Q = 16u;
const MAX_ROWS = 4u;
const MAX_QUADS = 16u;
const NEG_BIG = -3.0e38;
const LOG2E = 1.4426950408889634;

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

fn relIndex(row: u32, key: u32) -> u32 {
  let n = max(row, key) - min(row, key);
  let b = bucketTable[min(n, params.tableLength - 1u)];
  if (row > key) { return params.span + min(b, params.span - 1u); }
  return params.span - min(b, params.span);
}

// c2p[row, idx] + p2c[key, idx] for one (query row, key) pair (positions within the sequence).
fn position(c2pRow: u32, p2cBase: u32, R: u32, row: u32, key: u32) -> f32 {
  let idx = relIndex(row, key);
  return rel[c2pRow + idx] + rel[(p2cBase + key) * R + idx];
}

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

  let keyLo = 0u;
  let keyHi = L;
  let R = 2u * params.span;
  let c2pBase = h * params.tokens + start;
  let p2cBase = (NUM_HEADS + h) * params.tokens + start;
  let posScale = params.scale * LOG2E;

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

    // The position terms, in base 2 like the scores: keys key0 + c of this block (clamped into the
    // sequence: keys past it are masked).
    let last = L - 1u;
    for (var r = 0u; r < ROWS; r++) {
      let row = min(q0 + LANES * r + lane, last);
      let c2pRow = (c2pBase + row) * R;
      sA[r] += posScale * vec4<f32>(position(c2pRow, p2cBase, R, row, min(key0, last)), position(c2pRow, p2cBase, R, row, min(key0 + 1u, last)),
                                    position(c2pRow, p2cBase, R, row, min(key0 + 2u, last)), position(c2pRow, p2cBase, R, row, min(key0 + 3u, last)));
      if (LANES == 8u) {
        sB[r] += posScale * vec4<f32>(position(c2pRow, p2cBase, R, row, min(key0 + 4u, last)), position(c2pRow, p2cBase, R, row, min(key0 + 5u, last)),
                                      position(c2pRow, p2cBase, R, row, min(key0 + 6u, last)), position(c2pRow, p2cBase, R, row, min(key0 + 7u, last)));
      }
    }

    // Online softmax; masked keys get probability 0.
    var pA: array<vec4<f32>, MAX_ROWS>;
    var pB: array<vec4<f32>, MAX_ROWS>; // stays 0 with 4 lanes (okB false)
    var corr: array<f32, MAX_ROWS>;
    for (var r = 0u; r < ROWS; r++) {
      let rowA = okA;
      let rowB = okB;
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
      let inv = select(0.0, 1.0 / rowSum[r], rowSum[r] > 0.0); // 0 only without an unmasked key (refused on the host)
      for (var d = 0u; d < quads; d++) { out[((start + row) * NUM_HEADS + h) * quads + d] = acc[r][d] * inv; }
    }
  }
}
