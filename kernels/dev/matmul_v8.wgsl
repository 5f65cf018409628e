// v8: v6 with W stored as f16, two per u32 (array<vec2<u32>>: one vec2 = 4 consecutive k of one
//     row), unpacked to f32 with unpack2x16float after the load; x, arithmetic and accumulation
//     stay f32. On lavapipe a load costs per 32-bit component per lane, so a W k-step is 2
//     component loads instead of 4; the weights take half the memory. unpack2x16float is core
//     WGSL: no shader-f16 needed.
//     Measured: 5.51x v1, 1.21x v6 (GFLOP/s geomean at M = 128 on lavapipe, bench/matmul.ts; bench/results/matmul-ladder-mesa-llvmpipe-2026-11-29.txt).
// Needs: subgroups with 8 <= subgroup size (the workgroup is one subgroup of 8 lanes).
// Math, layout, epilogues, limits: as kernels/matmul.wgsl (K % 4 == 0), W [N, K] f16.
// Reference: matmulRef with W rounded to f16.
enable subgroups;
override HAS_BIAS: bool = false;
override HAS_RESIDUAL: bool = false;
override ACTIVATION: u32 = 0u;

const A = 8u;  // rows per lane: tile rows = 8 * A
const B = 32u; // columns per workgroup: 4 calls of group() below
const Q = B / 4u;

struct Params { M: u32, N: u32, K: u32 }

@group(0) @binding(0) var<uniform> params: Params;
@group(0) @binding(1) var<storage, read> x: array<vec4<f32>>;
@group(0) @binding(2) var<storage, read> w: array<vec2<u32>>;
@group(0) @binding(3) var<storage, read> bias: array<f32>;
@group(0) @binding(4) var<storage, read> residual: array<f32>;
@group(0) @binding(5) var<storage, read_write> out: array<f32>;

fn wload(i: u32) -> vec4<f32> {
  let p = w[i];
  return vec4<f32>(unpack2x16float(p.x), unpack2x16float(p.y));
}

// acc[i][q0 .. q0+1] += x rows . the 8 w rows held one per lane in wl (columns 4*q0 .. 4*q0+7).
fn group(acc: ptr<function, array<array<vec4<f32>, Q>, A>>, xv: ptr<function, array<vec4<f32>, A>>, wl: vec4<f32>, q0: u32) {
  let w0 = subgroupBroadcast(wl, 0u);
  let w1 = subgroupBroadcast(wl, 1u);
  let w2 = subgroupBroadcast(wl, 2u);
  let w3 = subgroupBroadcast(wl, 3u);
  let w4 = subgroupBroadcast(wl, 4u);
  let w5 = subgroupBroadcast(wl, 5u);
  let w6 = subgroupBroadcast(wl, 6u);
  let w7 = subgroupBroadcast(wl, 7u);
  for (var i = 0u; i < A; i++) {
    let a = (*xv)[i];
    (*acc)[i][q0] += vec4<f32>(dot(a, w0), dot(a, w1), dot(a, w2), dot(a, w3));
    (*acc)[i][q0 + 1u] += vec4<f32>(dot(a, w4), dot(a, w5), dot(a, w6), dot(a, w7));
  }
}

@compute @workgroup_size(8)
fn main(@builtin(workgroup_id) wid: vec3<u32>, @builtin(local_invocation_index) lane: u32) {
  let K4 = params.K / 4u;
  let m0 = wid.y * 8u * A;
  let n0 = wid.x * B;
  var xr: array<u32, A>;
  for (var i = 0u; i < A; i++) { xr[i] = min(m0 + lane + 8u * i, params.M - 1u) * K4; }
  let wr0 = min(n0 + lane, params.N - 1u) * K4;
  let wr1 = min(n0 + 8u + lane, params.N - 1u) * K4;
  let wr2 = min(n0 + 16u + lane, params.N - 1u) * K4;
  let wr3 = min(n0 + 24u + lane, params.N - 1u) * K4;
  var acc: array<array<vec4<f32>, Q>, A>;
  for (var k = 0u; k < K4; k++) {
    var xv: array<vec4<f32>, A>;
    for (var i = 0u; i < A; i++) { xv[i] = x[xr[i] + k]; }
    group(&acc, &xv, wload(wr0 + k), 0u);
    group(&acc, &xv, wload(wr1 + k), 2u);
    group(&acc, &xv, wload(wr2 + k), 4u);
    group(&acc, &xv, wload(wr3 + k), 6u);
  }
  for (var i = 0u; i < A; i++) {
    let m = m0 + lane + 8u * i;
    if (m >= params.M) { break; }
    for (var q = 0u; q < Q; q++) {
      for (var j = 0u; j < 4u; j++) {
        let n = n0 + 4u * q + j;
        if (n >= params.N) { break; }
        var v = acc[i][q][j];
        if (HAS_BIAS) { v += bias[n]; }
        if (ACTIVATION == 1u) { v = tanh(clamp(v, -15.0, 15.0)); }
        if (HAS_RESIDUAL) { v += residual[m * params.N + n]; }
        out[m * params.N + n] = v;
      }
    }
  }
}
