// v9 (GPU candidate): register-blocked 8 x 8 outputs per invocation, shared-memory K tiles
//     double-buffered, vectorised (vec4) shared-memory stores and reads. The wgpu-mm / llm.c
//     recipe for GPUs: each invocation turns 16 vec4 reads of workgroup memory (8 x rows, 8 w
//     rows, 4 consecutive k each) into 64 dot4s = 256 FMAs, 4x the FMAs per shared read of
//     kernels/matmul.wgsl (4 x 4 per invocation, scalar-scattered k-major stores).
//   Tile sizes are override constants, the one source of truth: TILE_M x TILE_N outputs per
//     workgroup (multiples of 8; (TILE_M / 8) x (TILE_N / 8) invocations), TILE_K (a multiple of
//     4) per K step; the host (kernels/dev/matmul_variants.ts) passes them and computes the
//     dispatch from the same numbers. Defaults 128 x 128 x 8: 256 invocations, 2 x 16 KB of
//     workgroup memory (x and w tiles, two buffers each).
//   Ownership: invocation (tx, ty) computes rows ty + (TILE_M / 8) * i and columns
//     tx + (TILE_N / 8) * j (i, j < 8): strided, so neighbouring invocations read neighbouring
//     tile rows and write neighbouring output columns.
//   Double buffering: tile t + 1 is fetched from storage into registers before tile t's FMAs,
//     stored into the other buffer after them; one barrier per K step.
//   Loads: x and w tiles are stored [row][k] exactly as they sit in storage (K-contiguous), so a
//     vec4 loaded is a vec4 stored: no transpose, no scalar scatter.
// Math, layout, epilogues (HAS_BIAS, HAS_RESIDUAL, ACTIVATION 1 = tanh), limits: as
//     kernels/matmul.wgsl (K % 4 == 0; M, N arbitrary). Reference: matmulRef.
override HAS_BIAS: bool = false;
override HAS_RESIDUAL: bool = false;
override ACTIVATION: u32 = 0u;
override TILE_M: u32 = 128u;
override TILE_N: u32 = 128u;
override TILE_K: u32 = 8u;

const R = 8u;         // outputs per invocation along each axis (registers: const)
const MAX_SLOTS = 4u; // vec4 loads per invocation per operand and K step: TILE_M * TILE_K / 4 / invocations

struct Params { M: u32, N: u32, K: u32 }

@group(0) @binding(0) var<uniform> params: Params;
@group(0) @binding(1) var<storage, read> x: array<vec4<f32>>;
@group(0) @binding(2) var<storage, read> w: array<vec4<f32>>;
@group(0) @binding(3) var<storage, read> bias: array<f32>;
@group(0) @binding(4) var<storage, read> residual: array<f32>;
@group(0) @binding(5) var<storage, read_write> out: array<f32>;

// Two buffers of [TILE][TILE_K / 4] vec4s each.
var<workgroup> tileX: array<vec4<f32>, 2u * TILE_M * TILE_K / 4u>;
var<workgroup> tileW: array<vec4<f32>, 2u * TILE_N * TILE_K / 4u>;

@compute @workgroup_size(TILE_N / R, TILE_M / R)
fn main(@builtin(workgroup_id) wid: vec3<u32>, @builtin(local_invocation_id) lid3: vec3<u32>,
        @builtin(local_invocation_index) lid: u32) {
  let threads = (TILE_N / R) * (TILE_M / R);
  let KQ = TILE_K / 4u;                 // vec4s per tile row
  let xSlots = TILE_M * KQ;             // vec4s per x tile
  let wSlots = TILE_N * KQ;
  let m0 = wid.y * TILE_M;
  let n0 = wid.x * TILE_N;
  let K4 = params.K / 4u;
  let steps = (K4 + KQ - 1u) / KQ;
  let tx = lid3.x;
  let ty = lid3.y;

  // Slot s of a tile: row s / KQ, vec4 s % KQ; this invocation's slots are lid + threads * j.
  var xs: array<vec4<f32>, MAX_SLOTS>;
  var ws: array<vec4<f32>, MAX_SLOTS>;
  // fetch(step): storage -> registers.
  for (var j = 0u; j < MAX_SLOTS; j++) {
    let s = lid + threads * j;
    let kq = s % KQ;
    if (s < xSlots && m0 + s / KQ < params.M && kq < K4) { xs[j] = x[(m0 + s / KQ) * K4 + kq]; } else { xs[j] = vec4<f32>(0.0); }
    if (s < wSlots && n0 + s / KQ < params.N && kq < K4) { ws[j] = w[(n0 + s / KQ) * K4 + kq]; } else { ws[j] = vec4<f32>(0.0); }
  }
  for (var j = 0u; j < MAX_SLOTS; j++) {
    let s = lid + threads * j;
    if (s < xSlots) { tileX[s] = xs[j]; }
    if (s < wSlots) { tileW[s] = ws[j]; }
  }
  workgroupBarrier();

  var acc: array<array<vec4<f32>, 2>, R>; // acc[i][j / 4][j % 4]
  for (var t = 0u; t < steps; t++) {
    let cur = t % 2u;
    let more = t + 1u < steps;
    if (more) {
      let k0 = (t + 1u) * KQ;
      for (var j = 0u; j < MAX_SLOTS; j++) {
        let s = lid + threads * j;
        let kq = k0 + s % KQ;
        if (s < xSlots && m0 + s / KQ < params.M && kq < K4) { xs[j] = x[(m0 + s / KQ) * K4 + kq]; } else { xs[j] = vec4<f32>(0.0); }
        if (s < wSlots && n0 + s / KQ < params.N && kq < K4) { ws[j] = w[(n0 + s / KQ) * K4 + kq]; } else { ws[j] = vec4<f32>(0.0); }
      }
    }
    let xBase = cur * xSlots;
    let wBase = cur * wSlots;
    for (var q = 0u; q < KQ; q++) {
      var a: array<vec4<f32>, R>;
      var b: array<vec4<f32>, R>;
      for (var i = 0u; i < R; i++) {
        a[i] = tileX[xBase + (ty + (TILE_M / R) * i) * KQ + q];
        b[i] = tileW[wBase + (tx + (TILE_N / R) * i) * KQ + q];
      }
      for (var i = 0u; i < R; i++) {
        acc[i][0] += vec4<f32>(dot(a[i], b[0]), dot(a[i], b[1]), dot(a[i], b[2]), dot(a[i], b[3]));
        acc[i][1] += vec4<f32>(dot(a[i], b[4]), dot(a[i], b[5]), dot(a[i], b[6]), dot(a[i], b[7]));
      }
    }
    if (more) {
      let nxt = 1u - cur;
      for (var j = 0u; j < MAX_SLOTS; j++) {
        let s = lid + threads * j;
        if (s < xSlots) { tileX[nxt * xSlots + s] = xs[j]; }
        if (s < wSlots) { tileW[nxt * wSlots + s] = ws[j]; }
      }
    }
    workgroupBarrier();
  }

  for (var i = 0u; i < R; i++) {
    let m = m0 + ty + (TILE_M / R) * i;
    if (m >= params.M) { break; }
    for (var j = 0u; j < R; j++) {
      let n = n0 + tx + (TILE_N / R) * j;
      if (n >= params.N) { break; }
      var v = acc[i][j / 4u][j % 4u];
      if (HAS_BIAS) { v += bias[n]; }
      if (ACTIVATION == 1u) { v = tanh(clamp(v, -15.0, 15.0)); }
      if (HAS_RESIDUAL) { v += residual[m * params.N + n]; }
      out[m * params.N + n] = v;
    }
  }
}
