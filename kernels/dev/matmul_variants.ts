// The matmul lab's variants (kernels/dev/matmul_vN.wgsl), used by bench/matmul.ts and the
// matmul tests, never by src/. Every variant has the production kernel's interface: bindings
// (params {M, N, K}, x, w, bias, residual, out), override constants HAS_BIAS / HAS_RESIDUAL /
// ACTIVATION, and a 2-D grid of (ceil(N / tileN), ceil(M / tileM)) workgroups.
import v1 from './matmul_v1.wgsl?raw';
import v2 from './matmul_v2.wgsl?raw';
import v3 from './matmul_v3.wgsl?raw';
import v4 from './matmul_v4.wgsl?raw';
import v5 from './matmul_v5.wgsl?raw';
import v6 from './matmul_v6.wgsl?raw';
import v7 from './matmul_v7.wgsl?raw';
import v8 from './matmul_v8.wgsl?raw';

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
];
