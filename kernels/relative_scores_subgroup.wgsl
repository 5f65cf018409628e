// relative_scores_subgroup: relative_scores.wgsl's c2p / p2c (same math, bindings, Params, row
//   window and output; its header describes them) on attention_subgroup.wgsl's register tiles, the
//   path for CPU adapters such as lavapipe, where workgroup memory is slow: one subgroup of LANES
//   lanes per 16 token rows of one head and term; lane l owns rows n0 + l + LANES * r (r < ROWS =
//   16 / LANES) in registers; relative rows stream LANES at a time, lane l loading row r0 + l one
//   vec4 at a time and subgroupBroadcast handing it to every lane. No workgroup memory, no barriers.
// Dispatch: (ceil(N / 16), 2 * H) workgroups of LANES invocations (4 or 8, checked on the host);
//           each loops over the window's relative rows.
// Numerics: f32 products and sums.
// Limits:   HEAD_DIM % 4 == 0 and HEAD_DIM <= 64; subgroups of at least LANES invocations.
// Reference: relativeScoresRef in src/reference.ts.
enable subgroups;

override HEAD_DIM: u32;
override NUM_HEADS: u32;
override LANES: u32 = 8u;
const BLOCK_N = 16u;    // token rows per workgroup
const MAX_ROWS = 4u;    // BLOCK_N / 4: the most rows a lane owns
const MAX_QUADS = 16u;  // head dim <= 64

struct Params { tokens: u32, rows: u32 }

@group(0) @binding(0) var<uniform> params: Params;
@group(0) @binding(1) var<storage, read> q: array<vec4<f32>>;
@group(0) @binding(2) var<storage, read> k: array<vec4<f32>>;
@group(0) @binding(3) var<storage, read> relProj: array<vec4<f32>>;
@group(0) @binding(4) var<storage, read_write> out: array<f32>;
@group(0) @binding(5) var<storage, read> rows: array<vec4<u32>>;

@compute @workgroup_size(LANES)
fn main(@builtin(workgroup_id) wid: vec3<u32>, @builtin(subgroup_invocation_id) lane: u32) {
  let quads = HEAD_DIM / 4u;
  let ROWS = BLOCK_N / LANES;
  let N = params.tokens;
  let R = params.rows;
  let n0 = wid.x * BLOCK_N;
  let which = wid.y / NUM_HEADS; // 0: c2p (q . Kr), 1: p2c (k . Qr)
  let h = wid.y % NUM_HEADS;
  let relBase = (which * NUM_HEADS + h) * R;
  let outBase = (which * NUM_HEADS + h) * N;
  let window = rows[0];

  var a: array<array<vec4<f32>, MAX_QUADS>, MAX_ROWS>;
  for (var r = 0u; r < ROWS; r++) {
    let n = min(n0 + LANES * r + lane, N - 1u); // rows past N are computed, not written
    let at = (h * N + n) * quads;
    for (var d = 0u; d < quads; d++) { a[r][d] = select(q[at + d], k[at + d], which == 1u); }
  }
  for (var r0 = window.x; r0 < window.y; r0 += LANES) {
    let mine = relBase + min(r0 + lane, window.y - 1u); // this lane's relative row (clamped)
    var sA: array<vec4<f32>, MAX_ROWS>;
    var sB: array<vec4<f32>, MAX_ROWS>;
    // Zeroed explicitly (see attention_subgroup.wgsl: Dawn + lavapipe kept a loop var's old value).
    for (var r = 0u; r < ROWS; r++) {
      sA[r] = vec4<f32>(0.0);
      sB[r] = vec4<f32>(0.0);
    }
    for (var d = 0u; d < quads; d++) {
      let bl = relProj[mine * quads + d];
      let b0 = subgroupBroadcast(bl, 0u);
      let b1 = subgroupBroadcast(bl, 1u);
      let b2 = subgroupBroadcast(bl, 2u);
      let b3 = subgroupBroadcast(bl, 3u);
      for (var r = 0u; r < ROWS; r++) {
        let x = a[r][d];
        sA[r] += vec4<f32>(dot(x, b0), dot(x, b1), dot(x, b2), dot(x, b3));
      }
      if (LANES == 8u) {
        let b4 = subgroupBroadcast(bl, 4u);
        let b5 = subgroupBroadcast(bl, 5u);
        let b6 = subgroupBroadcast(bl, 6u);
        let b7 = subgroupBroadcast(bl, 7u);
        for (var r = 0u; r < ROWS; r++) {
          let x = a[r][d];
          sB[r] += vec4<f32>(dot(x, b4), dot(x, b5), dot(x, b6), dot(x, b7));
        }
      }
    }
    for (var r = 0u; r < ROWS; r++) {
      let n = n0 + LANES * r + lane;
      if (n < N) {
        let base = (outBase + n) * R + r0;
        for (var c = 0u; c < 4u; c++) {
          if (r0 + c < window.y) { out[base + c] = sA[r][c]; }
          if (LANES == 8u && r0 + 4u + c < window.y) { out[base + 4u + c] = sB[r][c]; }
        }
      }
    }
  }
}
