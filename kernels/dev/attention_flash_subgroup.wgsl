// attention_flash_subgroup (GPU candidate): flash attention with subgroup reductions, for GPUs
//   whose subgroups are 32 or 64 wide (written for any size: lavapipe's 8 runs it in the tests).
//   Same math, bindings, Params (window included), tile table and output as kernels/attention.wgsl.
// Dispatch: (maxTiles, H) workgroups of WG invocations (override, default 64, a multiple of the
//   subgroup size). A workgroup owns the tile's BLOCK_Q = 16 query rows; its WG / subgroup_size
//   subgroups take rows r = group, group + groups, ... (group = local index / subgroup size: the
//   usual linear packing of a 1-D workgroup into subgroups). Per row, the subgroup splits the keys:
//   lane l scores key key0 + l of each block of subgroup_size keys (a q.k over HEAD_DIM from its
//   own vec4 loads of the key row), the block's max and sum come from subgroupMax / subgroupAdd
//   (no workgroup memory, no barriers), and each lane keeps an f32 accumulator of p v over its
//   own keys; at the end subgroupAdd folds the lanes' accumulators (flash-decoding's split over
//   keys, inside one subgroup). Online softmax: running max m, sum l, correction exp(m - m').
//   Sliding window: each row streams only its own [row - w, row + w] keys.
// Numerics: f32 throughout. Limits: HEAD_DIM % 4 == 0, HEAD_DIM <= 4 * MAX_QUADS = 128; the
//   'subgroups' feature; WG a multiple of the subgroup size.
// Reference: attentionRef in src/reference.ts.
enable subgroups;
// Rows and key ranges are uniform per subgroup (not per workgroup): the subgroup ops are too.
diagnostic(off, subgroup_uniformity);

override HEAD_DIM: u32;
override NUM_HEADS: u32;
override WG: u32 = 64u;
const BLOCK_Q = 16u;
const MAX_QUADS = 32u;
const NEG_BIG = -3.0e38;
const WINDOW_GLOBAL = 0xFFFFFFFFu;

struct Params { tokens: u32, scale: f32, window: u32 }

@group(0) @binding(0) var<uniform> params: Params;
@group(0) @binding(1) var<storage, read> q: array<vec4<f32>>;
@group(0) @binding(2) var<storage, read> k: array<vec4<f32>>;
@group(0) @binding(3) var<storage, read> v: array<vec4<f32>>;
@group(0) @binding(4) var<storage, read> keyMask: array<u32>;
@group(0) @binding(5) var<storage, read> tiles: array<vec4<u32>>;
@group(0) @binding(6) var<storage, read_write> out: array<vec4<f32>>;

@compute @workgroup_size(WG)
fn main(@builtin(workgroup_id) wid: vec3<u32>, @builtin(local_invocation_index) lid: u32,
        @builtin(subgroup_invocation_id) lane: u32, @builtin(subgroup_size) sg: u32) {
  let tile = tiles[wid.x];
  if (tile.w == 0u) { return; }
  let quads = HEAD_DIM / 4u;
  let start = tile.x;
  let L = tile.y;
  let q0 = tile.z;
  let h = wid.y;
  let headBase = h * params.tokens + start;
  let groups = max(1u, WG / sg);
  let windowed = params.window != WINDOW_GLOBAL;

  for (var r = lid / sg; r < BLOCK_Q; r += groups) {
    let row = q0 + r;
    if (row >= L) { break; }
    var qr: array<vec4<f32>, MAX_QUADS>;
    var acc: array<vec4<f32>, MAX_QUADS>;
    for (var d = 0u; d < quads; d++) {
      qr[d] = q[(headBase + row) * quads + d] * params.scale;
      acc[d] = vec4<f32>(0.0);
    }
    var lo = 0u;
    var hi = L;
    if (windowed) {
      lo = select(0u, row - params.window, row > params.window);
      hi = min(L, row + min(params.window, L) + 1u);
    }
    var m = NEG_BIG;
    var l = 0.0;
    for (var key0 = lo; key0 < hi; key0 += sg) {
      let key = key0 + lane;
      var ok = false;
      if (key < hi) { ok = keyMask[start + key] != 0u; }
      var s = NEG_BIG;
      let kr = (headBase + key) * quads;
      if (ok) {
        var s4 = vec4<f32>(0.0);
        for (var d = 0u; d < quads; d++) { s4 += qr[d] * k[kr + d]; }
        s = (s4.x + s4.y) + (s4.z + s4.w);
      }
      let mNew = max(m, subgroupMax(s));
      let corr = exp(m - mNew);
      var p = 0.0;
      if (ok) { p = exp(s - mNew); }
      l = l * corr + subgroupAdd(p);
      m = mNew;
      if (ok) {
        for (var d = 0u; d < quads; d++) { acc[d] = acc[d] * corr + p * v[kr + d]; }
      } else {
        for (var d = 0u; d < quads; d++) { acc[d] = acc[d] * corr; }
      }
    }
    let inv = select(0.0, 1.0 / l, l > 0.0); // 0: a masked row with no key in its window
    for (var d = 0u; d < quads; d++) {
      let total = subgroupAdd(acc[d]);
      if (lane == 0u) { out[((start + row) * NUM_HEADS + h) * quads + d] = total * inv; }
    }
  }
}
