// The matmul lab's variants (kernels/dev/matmul_vN.wgsl), used by bench/matmul.ts and the
// matmul tests, never by src/. Every variant has the production kernel's interface: bindings
// (params {M, N, K}, x, w, bias, residual, out), override constants HAS_BIAS / HAS_RESIDUAL /
// ACTIVATION, and a 2-D grid of (ceil(N / tileN), ceil(M / tileM)) workgroups. Where a variant's
// tile is an override (v9, v10: TILE_M, TILE_N, TILE_K), `constants` is the one place the numbers
// are written: tileM / tileN are read from it, and the host passes it to the pipeline.
import v1 from './matmul_v1.wgsl?raw';
import v2 from './matmul_v2.wgsl?raw';
import v3 from './matmul_v3.wgsl?raw';
import v4 from './matmul_v4.wgsl?raw';
import v5 from './matmul_v5.wgsl?raw';
import v6 from './matmul_v6.wgsl?raw';
import v7 from './matmul_v7.wgsl?raw';
import v8 from './matmul_v8.wgsl?raw';
import v9 from './matmul_v9.wgsl?raw';
import v10 from './matmul_v10.wgsl?raw';

export interface MatmulVariant {
  id: string;
  what: string;
  code: string;
  /** Output rows and columns one workgroup covers. */
  tileM: number;
  tileN: number;
  /** Device feature the shader needs ('subgroups', 'shader-f16'); absent: none. */
  requires?: GPUFeatureName[];
  /** Storage of W: f32, or f16 packed two per u32. */
  weightDtype?: 'f32' | 'f16';
  /** Override constants passed at pipeline creation (tile sizes of v9, v10). */
  constants?: Record<string, number>;
  /** What the reference must round to f16 besides W: 'x' for f16-operand kernels (v10). */
  roundsX?: boolean;
}

/**
 * A v9 / v10 rung: the tile is its override constants (TILE_M x TILE_N outputs, TILE_K per step;
 * 8 x 8 outputs per invocation), and tileM / tileN come from the same object.
 */
function registerBlocked(id: string, what: string, code: string, tile: { TILE_M: number; TILE_N: number; TILE_K: number }, f16: boolean): MatmulVariant {
  const invocations = (tile.TILE_M / 8) * (tile.TILE_N / 8);
  const slots = Math.max(tile.TILE_M, tile.TILE_N) * (tile.TILE_K / 4) / invocations;
  // The shaders' limits (MAX_SLOTS = 4 vec4 loads per invocation and operand, R = 8): a rung
  // outside them would compute garbage, so it is refused here.
  if (tile.TILE_M % 8 || tile.TILE_N % 8 || tile.TILE_K % 4 || slots > 4 || invocations > 256) {
    throw new Error(`${id}: tile ${tile.TILE_M}x${tile.TILE_N}x${tile.TILE_K} is outside matmul_v9's limits`);
  }
  return {
    id,
    what: `${what} (${tile.TILE_M}x${tile.TILE_N}x${tile.TILE_K})`,
    code,
    tileM: tile.TILE_M,
    tileN: tile.TILE_N,
    constants: tile,
    ...(f16 ? { requires: ['shader-f16' as GPUFeatureName], weightDtype: 'f16' as const, roundsX: true } : {}),
  };
}

export const MATMUL_VARIANTS: MatmulVariant[] = [
  { id: 'v1', what: 'shared-memory 64x64 tile, 16x16 threads, 4x4 each (original)', code: v1, tileM: 64, tileN: 64 },
  { id: 'v2', what: 'no workgroup memory, 4x4 per invocation, 8x8 invocations', code: v2, tileM: 32, tileN: 32 },
  { id: 'v3', what: '8 lanes over columns, 8 uniform rows x 4 cols each', code: v3, tileM: 8, tileN: 32 },
  { id: 'v4', what: 'uniform loads only: 8 lanes = 8 rows (select), 16 cols', code: v4, tileM: 8, tileN: 16 },
  { id: 'v5', what: 'subgroup-cooperative w loads + subgroupBroadcast, 16 rows x 16 cols', code: v5, tileM: 16, tileN: 16, requires: ['subgroups' as GPUFeatureName] },
  { id: 'v6', what: 'v5 unrolled by hand: 64 x 32 tile (8 rows x 32 cols per lane)', code: v6, tileM: 64, tileN: 32, requires: ['subgroups' as GPUFeatureName] },
  { id: 'v7', what: 'v6 with k unrolled by 2 (dead end)', code: v7, tileM: 64, tileN: 32, requires: ['subgroups' as GPUFeatureName] },
  { id: 'v8', what: 'v6 with f16 W (vec2<u32>-packed, unpack2x16float)', code: v8, tileM: 64, tileN: 32, requires: ['subgroups' as GPUFeatureName], weightDtype: 'f16' },
  // GPU candidates: register-blocked 8x8 per invocation, double-buffered K tiles, vec4 shared stores.
  registerBlocked('v9', 'GPU: register-blocked 8x8/invocation, double-buffered K tiles, vec4 shared stores', v9, { TILE_M: 128, TILE_N: 128, TILE_K: 8 }, false),
  registerBlocked('v9-64', 'v9 at a smaller tile', v9, { TILE_M: 64, TILE_N: 64, TILE_K: 16 }, false),
  registerBlocked('v10', 'v9 with f16 operands (shader-f16), f32 accumulation', v10, { TILE_M: 128, TILE_N: 128, TILE_K: 8 }, true),
  registerBlocked('v10-64', 'v10 at a smaller tile', v10, { TILE_M: 64, TILE_N: 64, TILE_K: 16 }, true),
];
