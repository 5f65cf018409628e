// relative_scores: DeBERTa's content-to-position and position-to-content dot products, every
//   token against every relative-embedding row, per head:
//     out[0, h, n, r] = q[h, n, :] . relProj[0, h, r, :]   (c2p: query . Kr, Kr = key_proj(LN(R)))
//     out[1, h, n, r] = k[h, n, :] . relProj[1, h, r, :]   (p2c: key . Qr, Qr = query_proj(LN(R)))
//   O(N * R * D) per head for R = 2 * span rows (512 in DeBERTa-v3): attention_disentangled.wgsl
//   then gathers one entry of each per (query, key) pair, so the position terms never cost L x L
//   dot products and no L x L tensor exists. Only relative rows [rows.x, rows.y) are computed (the
//   host's per-call window: the rows the batch's longest sequence can reach, 2 * |b(L - 1)| + 1 of
//   them; a 30-token prompt needs 59 of DeBERTa-v3's 512); the others are left as they were and
//   never read.
// Layout:   q, k f32 [H, N, D] (rope_qkv's split); relProj f32 [2, H, R, D] (Kr then Qr, computed
//           once at load); out f32 [2, H, N, R]; rows vec4<u32> [1] = (first row, end row, 0, 0).
// Dispatch: (ceil(R / TILE), ceil(N / TILE), 2 * H) workgroups of WG threads; z < H is c2p for
//           head z, z >= H p2c for head z - H; a workgroup whose relative rows are all outside
//           the window exits at once (uniformly, before any barrier). A workgroup stages TILE token rows and TILE
//           relative rows (whole head dims) in workgroup memory, then each thread computes one
//           token row x 4 relative rows.
// Numerics: f32 products and sums.
// Limits:   HEAD_DIM % 4 == 0; workgroup memory 2 * TILE * HEAD_DIM * 4 bytes (D = 64: 8 KB,
//           D = 128: 16 KB; checked on the host).
// Reference: relativeScoresRef in src/reference.ts.
override HEAD_DIM: u32;
override NUM_HEADS: u32;
const TILE = 16u;
const WG = 64u;

struct Params { tokens: u32, rows: u32 }

@group(0) @binding(0) var<uniform> params: Params;
@group(0) @binding(1) var<storage, read> q: array<vec4<f32>>;
@group(0) @binding(2) var<storage, read> k: array<vec4<f32>>;
@group(0) @binding(3) var<storage, read> relProj: array<vec4<f32>>;
@group(0) @binding(4) var<storage, read_write> out: array<f32>;
@group(0) @binding(5) var<storage, read> rows: array<vec4<u32>>;

var<workgroup> tokenTile: array<vec4<f32>, TILE * HEAD_DIM / 4u>;
var<workgroup> relTile: array<vec4<f32>, TILE * HEAD_DIM / 4u>;

@compute @workgroup_size(WG)
fn main(@builtin(workgroup_id) wid: vec3<u32>, @builtin(local_invocation_index) lid: u32) {
  let quads = HEAD_DIM / 4u;
  let N = params.tokens;
  let R = params.rows;
  let r0 = wid.x * TILE;
  let n0 = wid.y * TILE;
  let window = rows[0];
  if (r0 + TILE <= window.x || r0 >= window.y) { return; } // uniform: the whole workgroup
  let which = wid.z / NUM_HEADS; // 0: c2p (q . Kr), 1: p2c (k . Qr)
  let h = wid.z % NUM_HEADS;
  let relBase = (which * NUM_HEADS + h) * R;
  for (var i = lid; i < TILE * quads; i += WG) {
    let n = n0 + i / quads;
    var a = vec4<f32>(0.0);
    if (n < N) {
      let at = (h * N + n) * quads + i % quads;
      a = select(q[at], k[at], which == 1u);
    }
    tokenTile[i] = a;
    let r = r0 + i / quads;
    var b = vec4<f32>(0.0);
    if (r < R) { b = relProj[(relBase + r) * quads + i % quads]; }
    relTile[i] = b;
  }
  workgroupBarrier();

  let row = lid / 4u;       // token row of the tile
  let col = (lid % 4u) * 4u; // first of 4 relative rows
  var acc = vec4<f32>(0.0);
  for (var d = 0u; d < quads; d++) {
    let a = tokenTile[row * quads + d];
    acc += vec4<f32>(dot(a, relTile[col * quads + d]), dot(a, relTile[(col + 1u) * quads + d]),
                     dot(a, relTile[(col + 2u) * quads + d]), dot(a, relTile[(col + 3u) * quads + d]));
  }
  let n = n0 + row;
  if (n < N) {
    let base = ((which * NUM_HEADS + h) * N + n) * R;
    for (var c = 0u; c < 4u; c++) {
      if (r0 + col + c < R) { out[base + r0 + col + c] = acc[c]; }
    }
  }
}
