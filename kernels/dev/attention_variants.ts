// The attention lab's candidates (kernels/dev/attention_*.wgsl), used by bench/attention.ts and
// the kernel tests, never by src/. Every one has kernels/attention.wgsl's bindings, Params
// {tokens, scale, window} and tile table, HEAD_DIM / NUM_HEADS overrides and a (maxTiles, H) grid.
import flashSubgroup from './attention_flash_subgroup.wgsl?raw';

export interface AttentionVariant {
  id: string;
  what: string;
  code: string;
  /** Override constants besides HEAD_DIM and NUM_HEADS. */
  constants?: Record<string, number>;
  /** Device features the shader needs. */
  requires?: GPUFeatureName[];
  /** Largest head dim it holds. */
  maxHeadDim: number;
}

export const ATTENTION_VARIANTS: AttentionVariant[] = [
  {
    id: 'flash-subgroup',
    what: 'GPU: per query row, keys split over a subgroup (any size), subgroupMax/subgroupAdd softmax, lanes folded by subgroupAdd',
    code: flashSubgroup,
    constants: { WG: 64 },
    requires: ['subgroups' as GPUFeatureName],
    maxHeadDim: 128,
  },
];
