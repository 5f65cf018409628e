// v5: subgroup-cooperative loads. lavapipe runs a subgroup as 8 SIMD lanes and turns every
//     storage load into 8 scalar, bounds-checked loads, one per lane, whether or not the address
//     is the same in every lane: the cost is per element per lane. So no lane loads data another
//     lane also needs: lane l loads its own x rows (m0 + l + 8a), and the w rows the whole
//     subgroup shares are loaded once, lane l loading row n0 + l of each group of 8, then handed
//     to every lane with subgroupBroadcast (an in-register permute). Tile: 8*A rows x B columns
//     per 8-invocation workgroup; per k-step of 4: A + B/8 vec4 loads per lane, 4*A*B FMAs.
//     Measured: 5.22x v1 (GFLOP/s geomean at M = 128 on lavapipe, bench/matmul.ts; bench/results/matmul-ladder-mesa-llvmpipe-2026-11-29.txt).
//     Tile sweep on 128x768->768: A=4, B=16 best; A=4, B=32 falls to about a quarter of it (see v6).
// Needs: subgroups with 8 <= subgroup size (the workgroup is one subgroup of 8 lanes).
// Math, layout, epilogues, limits: as kernels/matmul.wgsl (K % 4 == 0). Reference: matmulRef.
enable subgroups;
override HAS_BIAS: bool = false;
override HAS_RESIDUAL: bool = false;
override ACTIVATION: u32 = 0u;

const A = 2u;  // rows per lane: tile rows = 8 * A
const B = 16u; // columns per workgroup (multiple of 8)

struct Params { M: u32, N: u32, K: u32 }

@group(0) @binding(0) var<uniform> params: Params;
@group(0) @binding(1) var<storage, read> x: array<vec4<f32>>;
@group(0) @binding(2) var<storage, read> w: array<vec4<f32>>;
@group(0) @binding(3) var<storage, read> bias: array<f32>;
@group(0) @binding(4) var<storage, read> residual: array<f32>;
@group(0) @binding(5) var<storage, read_write> out: array<f32>;

@compute @workgroup_size(8)
fn main(@builtin(workgroup_id) wid: vec3<u32>, @builtin(local_invocation_index) lane: u32) {
  let K4 = params.K / 4u;
  let m0 = wid.y * 8u * A;
  let n0 = wid.x * B;
  var xr: array<u32, A>;
  for (var i = 0u; i < A; i++) { xr[i] = min(m0 + lane + 8u * i, params.M - 1u) * K4; }
  var wr: array<u32, B / 8u>;
  for (var g = 0u; g < B / 8u; g++) { wr[g] = min(n0 + 8u * g + lane, params.N - 1u) * K4; }
  var acc: array<array<f32, B>, A>;
  for (var k = 0u; k < K4; k++) {
    var xv: array<vec4<f32>, A>;
    for (var i = 0u; i < A; i++) { xv[i] = x[xr[i] + k]; }
    for (var g = 0u; g < B / 8u; g++) {
      let wl = w[wr[g] + k];
      let c = 8u * g;
      let w0 = subgroupBroadcast(wl, 0u);
      let w1 = subgroupBroadcast(wl, 1u);
      let w2 = subgroupBroadcast(wl, 2u);
      let w3 = subgroupBroadcast(wl, 3u);
      let w4 = subgroupBroadcast(wl, 4u);
      let w5 = subgroupBroadcast(wl, 5u);
      let w6 = subgroupBroadcast(wl, 6u);
      let w7 = subgroupBroadcast(wl, 7u);
      for (var i = 0u; i < A; i++) {
        acc[i][c] += dot(xv[i], w0);
        acc[i][c + 1u] += dot(xv[i], w1);
        acc[i][c + 2u] += dot(xv[i], w2);
        acc[i][c + 3u] += dot(xv[i], w3);
        acc[i][c + 4u] += dot(xv[i], w4);
        acc[i][c + 5u] += dot(xv[i], w5);
        acc[i][c + 6u] += dot(xv[i], w6);
        acc[i][c + 7u] += dot(xv[i], w7);
      }
    }
  }
  for (var i = 0u; i < A; i++) {
    let m = m0 + lane + 8u * i;
    if (m >= params.M) { break; }
    for (var c = 0u; c < B; c++) {
      let n = n0 + c;
      if (n >= params.N) { break; }
      var v = acc[i][c];
      if (HAS_BIAS) { v += bias[n]; }
      if (ACTIVATION == 1u) { v = tanh(clamp(v, -15.0, 15.0)); }
      if (HAS_RESIDUAL) { v += residual[m * params.N + n]; }
      out[m * params.N + n] = v;
    }
  }
}
