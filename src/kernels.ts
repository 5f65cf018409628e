// The only place that knows each kernel's bindings, params layout and workgroup math.
// Each kernel: a class built per model (its pipeline compiled once per device, see compilePipeline), whose `createDispatch`
// checks shapes on the host and returns a Dispatch that owns its uniform buffer and bind group,
// so the same shape can be recorded again and again with no allocation.
import embeddingWGSL from '../kernels/embedding.wgsl?raw';
import rmsnormWGSL from '../kernels/rmsnorm.wgsl?raw';
import layernormWGSL from '../kernels/layernorm.wgsl?raw';
import matmulWGSL from '../kernels/matmul.wgsl?raw';
import matmulSubgroupWGSL from '../kernels/matmul_subgroup.wgsl?raw';
import matmulF16WGSL from '../kernels/matmul_f16.wgsl?raw';
import ropeQkvWGSL from '../kernels/rope_qkv.wgsl?raw';
import attentionWGSL from '../kernels/attention.wgsl?raw';
import attentionSubgroupWGSL from '../kernels/attention_subgroup.wgsl?raw';
import attentionF16WGSL from '../kernels/attention_f16.wgsl?raw';
import attentionDisentangledWGSL from '../kernels/attention_disentangled.wgsl?raw';
import attentionDisentangledSubgroupWGSL from '../kernels/attention_disentangled_subgroup.wgsl?raw';
import relativeScoresWGSL from '../kernels/relative_scores.wgsl?raw';
import relativeScoresSubgroupWGSL from '../kernels/relative_scores_subgroup.wgsl?raw';
import poolingWGSL from '../kernels/pooling.wgsl?raw';
import l2normWGSL from '../kernels/l2norm.wgsl?raw';
import sentencePoolingWGSL from '../kernels/sentence_pooling.wgsl?raw';
import loraWGSL from '../kernels/lora.wgsl?raw';
import { KernelShapeError, EncoderError } from './errors';
import { attentionStrategy, attentionSubgroupLanes, matmulStrategy, matmulSubgroupsUsable, normRowPerThread, subgroupMinSize, type Arithmetic, type MatmulStrategy } from './capabilities';

export type { Arithmetic, MatmulStrategy } from './capabilities';
import type { SequenceRange } from './tables';

export type { SequenceRange };

export { KernelShapeError };

/** A GPU buffer with the logical f32/u32 shape it holds. */
export interface GPUTensor {
  label: string;
  buffer: GPUBuffer;
  shape: number[];
}

/**
 * One recorded compute dispatch: label for timing and debugging, encode into an open pass.
 * It owns its uniform params buffer: destroy() frees it (the plan that holds it calls it).
 */
export interface Dispatch {
  label: string;
  encode(pass: GPUComputePassEncoder): void;
  /** Optional so hand-made dispatches (bench/) need none; Kernel.dispatch always sets it. */
  destroy?(): void;
}

type BindingKind = 'uniform' | 'read' | 'write';
type Constants = Record<string, number | boolean>;

const MAX_WORKGROUPS_PER_DIM = 65535;

export function elementCount(shape: number[]): number {
  return shape.reduce((a, b) => a * b, 1);
}

function requireTensor(kernel: string, name: string, t: GPUTensor, shape: number[]): void {
  if (t.shape.length !== shape.length || t.shape.some((d, i) => d !== shape[i])) {
    throw new KernelShapeError(`${kernel}: ${name} (${t.label}) has shape [${t.shape}], expected [${shape}]`);
  }
  if (t.buffer.size < elementCount(shape) * 4) {
    throw new KernelShapeError(`${kernel}: ${name} buffer (${t.label}) holds ${t.buffer.size} bytes, needs ${elementCount(shape) * 4}`);
  }
}

function requireDistinct(kernel: string, out: GPUTensor, inputs: GPUTensor[]): void {
  for (const input of inputs) {
    if (input.buffer === out.buffer) {
      throw new KernelShapeError(`${kernel}: output ${out.label} aliases input ${input.label}`);
    }
  }
}

/** Spreads `count` workgroups over x and y (WebGPU caps each dimension at 65535). */
export function foldWorkgroups(count: number): [number, number] {
  if (count <= MAX_WORKGROUPS_PER_DIM) return [Math.max(1, count), 1];
  const y = Math.ceil(count / MAX_WORKGROUPS_PER_DIM);
  if (y > MAX_WORKGROUPS_PER_DIM) throw new KernelShapeError(`dispatch of ${count} workgroups is too large`);
  return [Math.ceil(count / y), y];
}

/** Packs a params struct of 32-bit fields (u32 unless listed in `floats`), padded to 16 bytes. */
function packParams(values: number[], floats: Set<number> = new Set()): ArrayBuffer {
  const bytes = new ArrayBuffer(Math.ceil((values.length * 4) / 16) * 16);
  const view = new DataView(bytes);
  values.forEach((v, i) => {
    if (floats.has(i)) view.setFloat32(i * 4, v, true);
    else view.setUint32(i * 4, v, true);
  });
  return bytes;
}

/** A compiled pipeline with the bind group layout it was made for (explicit, so bind groups fit any copy). */
interface CompiledPipeline {
  pipeline: GPUComputePipeline;
  layout: GPUBindGroupLayout;
}

/** What the pipeline cache did on one device (see pipelineStats). */
export interface PipelineStats {
  /** Pipelines compiled on this device (createComputePipeline[Async] calls). */
  created: number;
  /** Kernel creations served by an already compiled (or compiling) pipeline. */
  reused: number;
}

/**
 * Pipelines compiled once per device, shared by every model, plan and kernel on it: keyed by the
 * WGSL source, the bindings (the layout) and the override constants (every kernel's entry point is
 * `main`). The device owns them; a model's dispose() leaves them alone (WebGPU pipelines have no
 * destroy(); they go with the device), so two models of one architecture, or a reload after
 * dispose, compile nothing. A WeakMap: a destroyed device's pipelines are dropped with it.
 */
const pipelineCaches = new WeakMap<GPUDevice, { byKey: Map<string, Map<string, Promise<CompiledPipeline>>>; stats: PipelineStats }>();
let pipelineCacheEnabled = true;

function deviceCache(device: GPUDevice) {
  let cache = pipelineCaches.get(device);
  if (!cache) pipelineCaches.set(device, (cache = { byKey: new Map(), stats: { created: 0, reused: 0 } }));
  return cache;
}

/** How many pipelines this device has compiled, and how many kernel creations reused one. */
export function pipelineStats(device: GPUDevice): PipelineStats {
  return { ...deviceCache(device).stats };
}

/**
 * Turns the per-device pipeline cache off (every kernel creation compiles its own pipeline, as
 * before the cache) or back on. For benchmarks of cold starts only (bench/cold-start.ts).
 */
export function setPipelineCacheEnabled(enabled: boolean): void {
  pipelineCacheEnabled = enabled;
}

function compilePipeline(device: GPUDevice, name: string, code: string, bindings: BindingKind[], constants: Constants): Promise<CompiledPipeline> {
  // WebGPU takes override values as numbers; a bool override reads 0 as false.
  const overrides = Object.fromEntries(
    Object.entries(constants)
      .map(([k, v]) => [k, Number(v)] as const)
      .sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0)),
  );
  const cache = deviceCache(device);
  const key = `${bindings.join(',')}|${JSON.stringify(overrides)}`;
  // Keyed by the source string itself (module constants: one hash per source, not per lookup).
  let bySource = cache.byKey.get(code);
  if (!bySource) cache.byKey.set(code, (bySource = new Map()));
  const cached = pipelineCacheEnabled ? bySource.get(key) : undefined;
  if (cached) {
    cache.stats.reused++;
    return cached;
  }
  cache.stats.created++;
  const layout = device.createBindGroupLayout({
    label: name,
    entries: bindings.map((kind, binding) => ({
      binding,
      visibility: GPUShaderStage.COMPUTE,
      buffer: { type: kind === 'uniform' ? 'uniform' : kind === 'read' ? 'read-only-storage' : 'storage' },
    })),
  });
  const module = device.createShaderModule({ label: name, code });
  const descriptor: GPUComputePipelineDescriptor = {
    label: name,
    layout: device.createPipelineLayout({ bindGroupLayouts: [layout] }),
    compute: { module, entryPoint: 'main', constants: overrides },
  };
  // Async where the implementation has it, so a load does not block a page while shaders compile.
  const compiled = (
    typeof device.createComputePipelineAsync === 'function'
      ? device.createComputePipelineAsync(descriptor)
      : Promise.resolve(device.createComputePipeline(descriptor))
  ).then((pipeline) => ({ pipeline, layout }));
  if (pipelineCacheEnabled) {
    bySource.set(key, compiled);
    // A failed compile is not kept: the next creation tries again (and reports its own error).
    compiled.catch(() => {
      if (bySource.get(key) === compiled) bySource.delete(key);
    });
  }
  return compiled;
}

class Kernel {
  /** Buffers the kernel itself created (placeholders for unused bindings); destroy() frees them. */
  private readonly owned: GPUBuffer[] = [];

  protected constructor(
    readonly name: string,
    protected readonly device: GPUDevice,
    protected readonly pipeline: GPUComputePipeline,
    protected readonly layout: GPUBindGroupLayout,
  ) {}

  /** A 16-byte storage buffer for bindings a variant does not use, owned (and freed) by this kernel. */
  protected createPlaceholder(): GPUBuffer {
    const buffer = this.device.createBuffer({ label: `${this.name}.unused`, size: 16, usage: GPUBufferUsage.STORAGE });
    this.owned.push(buffer);
    return buffer;
  }

  /** Frees what the kernel created (not the Dispatches it returned: their plans free those). */
  destroy(): void {
    for (const buffer of this.owned) buffer.destroy();
    this.owned.length = 0;
  }

  protected static build(
    device: GPUDevice,
    name: string,
    code: string,
    bindings: BindingKind[],
    constants: Constants,
  ): Promise<CompiledPipeline> {
    return compilePipeline(device, name, code, bindings, constants);
  }

  /** Binds params + buffers once; the returned Dispatch can be encoded any number of times. */
  protected dispatch(label: string, params: ArrayBuffer, buffers: GPUBuffer[], workgroups: [number, number, number]): Dispatch {
    const uniform = this.device.createBuffer({
      label: `${label}.params`,
      size: params.byteLength,
      usage: GPUBufferUsage.UNIFORM,
      mappedAtCreation: true,
    });
    new Uint8Array(uniform.getMappedRange()).set(new Uint8Array(params));
    uniform.unmap();
    const bindGroup = this.device.createBindGroup({
      label,
      layout: this.layout,
      entries: [uniform, ...buffers].map((buffer, binding) => ({ binding, resource: { buffer } })),
    });
    const pipeline = this.pipeline;
    return {
      label,
      encode(pass) {
        pass.setPipeline(pipeline);
        pass.setBindGroup(0, bindGroup);
        pass.dispatchWorkgroups(workgroups[0], workgroups[1], workgroups[2]);
      },
      destroy() {
        uniform.destroy();
      },
    };
  }
}

export interface EmbeddingExtras {
  /** u32 [tokens]: the row of positionTable for each token (the host's absolute positions). */
  positions?: GPUTensor;
  /** f32 [maxPositions, C] */
  positionTable?: GPUTensor;
  /** u32 [tokens]: token type (segment) ids. */
  typeIds?: GPUTensor;
  /** f32 [typeVocab, C] */
  typeTable?: GPUTensor;
  /** The vocabulary row `table` starts at (a chunk of a split table); default 0. */
  firstRow?: number;
}

export class EmbeddingKernel extends Kernel {
  /**
   * hidden: C. positions / tokenTypes: add the absolute position and token type embeddings
   * (BERT, RoBERTa, XLM-R); default neither (NeoBERT, ModernBERT: the word embedding only).
   */
  static async create(device: GPUDevice, hidden: number, options: { positions?: boolean; tokenTypes?: boolean } = {}): Promise<EmbeddingKernel> {
    if (hidden % 4 !== 0) throw new KernelShapeError(`embedding: hidden size ${hidden} must be a multiple of 4`);
    const name = `embedding${options.tokenTypes ? '+type' : ''}${options.positions ? '+position' : ''}`;
    const { pipeline, layout } = await Kernel.build(
      device,
      name,
      embeddingWGSL,
      ['uniform', 'read', 'read', 'write', 'read', 'read', 'read', 'read'],
      { HIDDEN: hidden, HAS_POSITION: !!options.positions, HAS_TYPE: !!options.tokenTypes },
    );
    const k = new EmbeddingKernel(name, device, pipeline, layout);
    k.hidden = hidden;
    k.hasPositions = !!options.positions;
    k.hasTypes = !!options.tokenTypes;
    k.placeholder = k.createPlaceholder();
    return k;
  }
  private hidden = 0;
  private hasPositions = false;
  private hasTypes = false;
  private placeholder!: GPUBuffer;

  /**
   * ids u32 [tokens], table [V, C] (+ extra.positions u32 [tokens] into positionTable [P, C])
   * (+ extra.typeIds u32 [tokens] into typeTable [T, C]) -> hidden [tokens, C] = word + type +
   * position. Ids, positions and type ids must be validated by the caller (< V, P, T).
   * extra.firstRow: `table` holds vocabulary rows [firstRow, firstRow + V) only; this dispatch
   * writes the tokens whose ids fall there (see EmbeddingTable for tables split into chunks).
   */
  createDispatch(label: string, ids: GPUTensor, table: GPUTensor, out: GPUTensor, extra: EmbeddingExtras = {}): Dispatch {
    const tokens = ids.shape[0];
    const vocab = table.shape[0];
    requireTensor(this.name, 'ids', ids, [tokens]);
    requireTensor(this.name, 'table', table, [vocab, this.hidden]);
    requireTensor(this.name, 'out', out, [tokens, this.hidden]);
    for (const [what, compiled, index, rows] of [
      ['position', this.hasPositions, extra.positions, extra.positionTable],
      ['type', this.hasTypes, extra.typeIds, extra.typeTable],
    ] as const) {
      if (!!index !== compiled || !!rows !== compiled) {
        throw new KernelShapeError(`${this.name}: ${what} ids and table ${compiled ? 'missing' : 'given but not compiled in'}`);
      }
      if (index && rows) {
        requireTensor(this.name, `${what} ids`, index, [tokens]);
        requireTensor(this.name, `${what} table`, rows, [rows.shape[0], this.hidden]);
      }
    }
    const [x, y] = foldWorkgroups(tokens);
    const p = this.placeholder;
    const firstRow = extra.firstRow ?? 0;
    if (!Number.isInteger(firstRow) || firstRow < 0) throw new KernelShapeError(`${this.name}: firstRow ${firstRow} must be a non-negative integer`);
    return this.dispatch(
      label,
      packParams([tokens, firstRow, firstRow + vocab]),
      [ids.buffer, table.buffer, out.buffer, extra.positions?.buffer ?? p, extra.positionTable?.buffer ?? p, extra.typeIds?.buffer ?? p, extra.typeTable?.buffer ?? p],
      [x, y, 1],
    );
  }
}

export class RMSNormKernel extends Kernel {
  /** Threads per workgroup: per row (reduction) or rows per workgroup (rowPerThread). */
  static readonly WG = { reduction: 256, rowPerThread: 64 };

  /** rowPerThread (default: on CPU adapters) = one thread per row, no barriers; see kernels/rmsnorm.wgsl. */
  static async create(device: GPUDevice, options: { rowPerThread?: boolean } = {}): Promise<RMSNormKernel> {
    const rowPerThread = options.rowPerThread ?? normRowPerThread(device);
    const WG = rowPerThread ? RMSNormKernel.WG.rowPerThread : RMSNormKernel.WG.reduction;
    const name = rowPerThread ? 'rmsnorm.row-per-thread' : 'rmsnorm';
    const { pipeline, layout } = await Kernel.build(device, name, rmsnormWGSL, ['uniform', 'read', 'read', 'write'], { WG, ROW_PER_THREAD: rowPerThread });
    const k = new RMSNormKernel(name, device, pipeline, layout);
    k.rowPerThread = rowPerThread;
    return k;
  }
  rowPerThread = false;

  /** x [rows, cols], weight [cols] -> out [rows, cols]. */
  createDispatch(label: string, x: GPUTensor, weight: GPUTensor, out: GPUTensor, eps: number): Dispatch {
    const [rows, cols] = x.shape;
    requireTensor(this.name, 'x', x, [rows, cols]);
    requireTensor(this.name, 'weight', weight, [cols]);
    requireTensor(this.name, 'out', out, [rows, cols]);
    requireDistinct(this.name, out, [x]);
    const [gx, gy] = foldWorkgroups(this.rowPerThread ? Math.ceil(rows / RMSNormKernel.WG.rowPerThread) : rows);
    return this.dispatch(label, packParams([rows, cols, eps], new Set([2])), [x.buffer, weight.buffer, out.buffer], [gx, gy, 1]);
  }
}

export class LayerNormKernel extends Kernel {
  /** Threads per workgroup: per row (reduction) or rows per workgroup (rowPerThread). */
  static readonly WG = { reduction: 256, rowPerThread: 64 };

  /**
   * nn.LayerNorm over the last dim (two-pass mean / variance, see kernels/layernorm.wgsl).
   * bias: whether the norm has a bias (BERT, RoBERTa: yes; ModernBERT: config.norm_bias).
   * rowPerThread (default: on CPU adapters) = one thread per row, no barriers.
   */
  static async create(device: GPUDevice, options: { bias?: boolean; rowPerThread?: boolean } = {}): Promise<LayerNormKernel> {
    const rowPerThread = options.rowPerThread ?? normRowPerThread(device);
    const WG = rowPerThread ? LayerNormKernel.WG.rowPerThread : LayerNormKernel.WG.reduction;
    const name = `layernorm${rowPerThread ? '.row-per-thread' : ''}${options.bias ? '+bias' : ''}`;
    const { pipeline, layout } = await Kernel.build(device, name, layernormWGSL, ['uniform', 'read', 'read', 'read', 'write'], {
      WG,
      ROW_PER_THREAD: rowPerThread,
      HAS_BIAS: !!options.bias,
    });
    const k = new LayerNormKernel(name, device, pipeline, layout);
    k.rowPerThread = rowPerThread;
    k.hasBias = !!options.bias;
    k.placeholder = k.createPlaceholder();
    return k;
  }
  rowPerThread = false;
  private hasBias = false;
  private placeholder!: GPUBuffer;

  /** x [rows, cols], weight [cols] (, bias [cols]) -> out [rows, cols]; eps as in the config (BERT 1e-12). */
  createDispatch(label: string, x: GPUTensor, weight: GPUTensor, bias: GPUTensor | null, out: GPUTensor, eps: number): Dispatch {
    const [rows, cols] = x.shape;
    requireTensor(this.name, 'x', x, [rows, cols]);
    requireTensor(this.name, 'weight', weight, [cols]);
    if (!!bias !== this.hasBias) throw new KernelShapeError(`${this.name}: bias ${bias ? 'given but not compiled in' : 'missing'}`);
    if (bias) requireTensor(this.name, 'bias', bias, [cols]);
    requireTensor(this.name, 'out', out, [rows, cols]);
    requireDistinct(this.name, out, [x]);
    if (!(eps >= 0)) throw new KernelShapeError(`${this.name}: eps ${eps} must be >= 0`);
    const [gx, gy] = foldWorkgroups(this.rowPerThread ? Math.ceil(rows / LayerNormKernel.WG.rowPerThread) : rows);
    return this.dispatch(label, packParams([rows, cols, eps], new Set([2])), [x.buffer, weight.buffer, bias?.buffer ?? this.placeholder, out.buffer], [gx, gy, 1]);
  }
}

/** Epilogue activations (Hugging Face names in brackets); see act() in kernels/matmul.wgsl. */
export type MatmulActivation =
  | 'none'
  | 'tanh'
  /** exact 0.5 x (1 + erf(x / sqrt 2)) ('gelu', nn.GELU()) */
  | 'gelu'
  /** 0.5 x (1 + tanh(sqrt(2 / pi) (x + 0.044715 x^3))) ('gelu_new', 'gelu_pytorch_tanh') */
  | 'gelu_tanh'
  | 'relu'
  /** x / (1 + exp(-x)) ('silu', 'swish') */
  | 'silu';

/** The ACTIVATION override value of each activation (kernels/matmul.wgsl). */
export const MATMUL_ACTIVATIONS: Record<MatmulActivation, number> = { none: 0, tanh: 1, gelu: 2, gelu_tanh: 3, relu: 4, silu: 5 };

export interface MatmulEpilogue {
  bias?: boolean;
  residual?: boolean;
  activation?: MatmulActivation;
  /**
   * RMSNorm prologue: each output row is scaled by 1 / sqrt(mean(x row^2) + eps), so with the
   * norm's gain folded into W's columns (foldNormGain) the kernel computes matmul(rmsnorm(x)).
   */
  normRows?: boolean;
  /**
   * GLU epilogue: W's rows (and the bias, if any) hold the two halves of a gated FFN interleaved
   * (interleaveGateUp / interleaveGateUpBias: row 2f = row f of the first half, the one that goes
   * through the activation; 2f + 1 = row f of the second) and out [M, N/2] holds
   * act(y[:, 2f] + b[2f]) * (y[:, 2f + 1] + b[2f + 1]). 'silu': SwiGLU (NeoBERT's w12);
   * 'gelu': GeGLU with exact gelu (ModernBERT's Wi: input, gate = chunk(2); gelu(input) * gate).
   * Combines with bias and normRows, not with activation or residual.
   */
  glu?: 'silu' | 'gelu';
  /** The same as glu: 'silu' (kept for existing callers). */
  swiglu?: boolean;
}

/**
 * Which matmul kernel: 'tiled' (kernels/matmul.wgsl: workgroup-memory tiles, what GPUs are built
 * for) or 'subgroup' (kernels/matmul_subgroup.wgsl: register tiles fed by subgroup broadcasts,
 * for CPU adapters; 4.7x the tiled kernel on lavapipe at M = 128, see bench/matmul.ts).
 */


export interface MatmulOptions extends MatmulEpilogue {
  /** Storage of W: 'f32', or 'f16' (IEEE halves, two per 32-bit word, see encodeF16). Default 'f32'. */
  weightDtype?: 'f32' | 'f16';
  /** Default: matmulStrategy(device), or 'tiled' with arithmetic 'f16'. */
  strategy?: MatmulStrategy;
  /** Default 'f32'. 'f16' needs shader-f16 and the 'tiled' strategy (see Arithmetic). */
  arithmetic?: Arithmetic;
}

/** Throws unless the device can run f16-arithmetic kernels with this strategy. */
function requireF16Arithmetic(kernel: string, device: GPUDevice, strategy: string): void {
  if (!device.features.has('shader-f16')) {
    throw new EncoderError(`${kernel}: arithmetic 'f16' needs the 'shader-f16' feature, which this device lacks; use arithmetic 'f32'`);
  }
  if (strategy !== 'tiled') throw new EncoderError(`${kernel}: arithmetic 'f16' runs with strategy 'tiled' only, not '${strategy}'`);
}

/** requireTensor for a tensor stored as IEEE halves (2 bytes per element). */
function requireHalfTensor(kernel: string, name: string, t: GPUTensor, shape: number[]): void {
  if (t.shape.length !== shape.length || t.shape.some((d, i) => d !== shape[i])) {
    throw new KernelShapeError(`${kernel}: ${name} (${t.label}) has shape [${t.shape}], expected [${shape}]`);
  }
  if (t.buffer.size < elementCount(shape) * 2) {
    throw new KernelShapeError(`${kernel}: ${name} buffer (${t.label}) holds ${t.buffer.size} bytes, needs ${elementCount(shape) * 2} (f16)`);
  }
}

/**
 * The value of `const NAME = <n>u;` in a kernel's WGSL source. Tile sizes that fix a kernel's
 * register and private-array shapes must be WGSL constants (function-scope array sizes cannot be
 * override expressions), so the shader is their one source of truth and the host reads them from
 * it for its dispatch math and tables, never repeating the number.
 */
export function wgslConstant(source: string, name: string): number {
  const match = new RegExp(`^const ${name}\\s*=\\s*(\\d+)u\\s*;`, 'm').exec(source);
  if (!match) throw new KernelShapeError(`kernel source has no "const ${name} = <n>u;"`);
  return Number(match[1]);
}

/** A constant the given kernels must agree on (they share host-side tables). */
function sameConstant(name: string, sources: string[]): number {
  const values = sources.map((source) => wgslConstant(source, name));
  if (values.some((v) => v !== values[0])) throw new KernelShapeError(`attention kernels disagree on ${name}: ${values.join(', ')}`);
  return values[0];
}

export class MatmulKernel extends Kernel {
  /**
   * Output rows x columns per workgroup, per strategy, read from the WGSL: matmul.wgsl's TILE;
   * matmul_subgroup.wgsl's 8 lanes x A rows and 4 x Q columns. matmul_f16.wgsl takes the tiled
   * kernel's as its TILE_M / TILE_N overrides.
   */
  static readonly TILES: Record<MatmulStrategy, { rows: number; cols: number }> = {
    tiled: { rows: wgslConstant(matmulWGSL, 'TILE'), cols: wgslConstant(matmulWGSL, 'TILE') },
    subgroup: { rows: 8 * wgslConstant(matmulSubgroupWGSL, 'A'), cols: 4 * wgslConstant(matmulSubgroupWGSL, 'Q') },
  };

  static async create(device: GPUDevice, options: MatmulOptions = {}): Promise<MatmulKernel> {
    const arithmetic = options.arithmetic ?? 'f32';
    if (arithmetic !== 'f32' && arithmetic !== 'f16') throw new EncoderError(`matmul: unknown arithmetic '${arithmetic}'`);
    const strategy = options.strategy ?? (arithmetic === 'f16' ? 'tiled' : matmulStrategy(device));
    const weightDtype = options.weightDtype ?? 'f32';
    if (arithmetic === 'f16') requireF16Arithmetic('matmul', device, strategy);
    if (strategy === 'subgroup' && !matmulSubgroupsUsable(device)) {
      throw new EncoderError(
        `matmul: the subgroup kernel needs the 'subgroups' feature with at least 8 invocations per subgroup ` +
          `(this device: ${device.features.has('subgroups' as GPUFeatureName) ? `subgroups of ${device.adapterInfo?.subgroupMinSize ?? '?'}+` : 'no subgroups'}); use strategy 'tiled'`,
      );
    }
    const glu = MatmulKernel.gluOf(options);
    const activation = options.activation ?? 'none';
    if (!(activation in MATMUL_ACTIVATIONS)) throw new EncoderError(`matmul: unknown activation '${activation}'`);
    if (glu && (options.residual || activation !== 'none')) {
      throw new EncoderError(`matmul: the ${glu === 'silu' ? 'swiglu' : 'geglu'} epilogue does not combine with activation or residual`);
    }
    const name =
      `matmul${weightDtype === 'f16' ? '.f16' : ''}${strategy === 'subgroup' ? '.subgroup' : ''}${arithmetic === 'f16' ? '.f16math' : ''}` +
      `${options.normRows ? '+rmsnorm' : ''}` +
      `${options.bias ? '+bias' : ''}${activation !== 'none' ? `+${activation}` : ''}${options.residual ? '+residual' : ''}` +
      `${glu === 'silu' ? '+swiglu' : glu === 'gelu' ? '+geglu' : ''}`;
    const { pipeline, layout } = await Kernel.build(
      device,
      name,
      arithmetic === 'f16' ? matmulF16WGSL : strategy === 'subgroup' ? matmulSubgroupWGSL : matmulWGSL,
      ['uniform', 'read', 'read', 'read', 'read', 'write'],
      {
        HAS_BIAS: !!options.bias,
        HAS_RESIDUAL: !!options.residual,
        ACTIVATION: MATMUL_ACTIVATIONS[glu ?? activation],
        W_F16: weightDtype === 'f16',
        NORM_ROWS: !!options.normRows,
        GLU: !!glu,
        // The f16 kernel's tile is an override: the dispatch below and the shader read the same numbers.
        ...(arithmetic === 'f16' ? { TILE_M: MatmulKernel.TILES.tiled.rows, TILE_N: MatmulKernel.TILES.tiled.cols } : {}),
      },
    );
    const k = new MatmulKernel(name, device, pipeline, layout);
    k.arithmetic = arithmetic;
    k.epilogue = options;
    k.glu = glu;
    k.strategy = strategy;
    k.weightDtype = weightDtype;
    // Unused epilogue bindings still need a buffer in the bind group.
    k.placeholder = k.createPlaceholder();
    return k;
  }
  /** The GLU activation an epilogue asks for (swiglu: true is glu: 'silu'), or undefined. */
  static gluOf(options: MatmulEpilogue): 'silu' | 'gelu' | undefined {
    if (options.glu !== undefined && options.glu !== 'silu' && options.glu !== 'gelu') throw new EncoderError(`matmul: unknown glu '${options.glu}'`);
    if (options.swiglu && options.glu === 'gelu') throw new EncoderError(`matmul: swiglu: true and glu: 'gelu' contradict each other`);
    return options.glu ?? (options.swiglu ? 'silu' : undefined);
  }
  private epilogue: MatmulEpilogue = {};
  private glu: 'silu' | 'gelu' | undefined;
  private placeholder!: GPUBuffer;
  strategy: MatmulStrategy = 'tiled';
  weightDtype: 'f32' | 'f16' = 'f32';
  arithmetic: Arithmetic = 'f32';

  /**
   * x [M, K] @ w[N, K]^T (+ bias [N]) (activation) (+ residual [M, N]) -> out [M, N]; with normRows
   * the rows are first scaled by 1 / rms (extra.eps), with glu (swiglu) out is [M, N/2] (w and
   * bias interleaved, see MatmulEpilogue.glu). w holds f32 or, for an f16 kernel, N*K halves
   * (2 bytes each); every other tensor is f32. extra.outColumn: out is [M, W] (W its width) and
   * this dispatch writes columns [outColumn, outColumn + N): one row chunk of a weight too large
   * for one binding (not with glu or residual).
   */
  createDispatch(
    label: string,
    x: GPUTensor,
    w: GPUTensor,
    out: GPUTensor,
    extra: { bias?: GPUTensor; residual?: GPUTensor; eps?: number; outColumn?: number } = {},
  ): Dispatch {
    const [M, K] = x.shape;
    const N = w.shape[0];
    if (K % 4 !== 0) throw new KernelShapeError(`${this.name}: K = ${K} (${x.label}) must be a multiple of 4`);
    requireTensor(this.name, 'x', x, [M, K]);
    if (this.weightDtype === 'f32') {
      requireTensor(this.name, 'w', w, [N, K]);
    } else {
      if (w.shape.length !== 2 || w.shape[1] !== K) throw new KernelShapeError(`${this.name}: w (${w.label}) has shape [${w.shape}], expected [${N},${K}]`);
      if (w.buffer.size < N * K * 2) throw new KernelShapeError(`${this.name}: w buffer (${w.label}) holds ${w.buffer.size} bytes, needs ${N * K * 2} (f16)`);
      // An f32 buffer bound here would be read as garbage halves: its size gives it away.
      if (N * K * 4 > 16 && w.buffer.size >= N * K * 4) {
        throw new KernelShapeError(`${this.name}: w buffer (${w.label}) holds ${w.buffer.size} bytes, f32-sized; this kernel reads f16 weights (${N * K * 2} bytes)`);
      }
    }
    if (this.glu && N % 2 !== 0) {
      throw new KernelShapeError(`${this.name}: w (${w.label}) has ${N} rows; the ${this.glu === 'silu' ? 'swiglu' : 'geglu'} epilogue needs gate/up pairs (an even count)`);
    }
    const outColumn = extra.outColumn ?? 0;
    const outWidth = extra.outColumn === undefined ? (this.glu ? N / 2 : N) : out.shape[1];
    if (extra.outColumn !== undefined) {
      if (this.glu || extra.residual) throw new KernelShapeError(`${this.name}: outColumn does not combine with glu or a residual`);
      if (!Number.isInteger(outColumn) || outColumn < 0 || outColumn + N > outWidth) {
        throw new KernelShapeError(`${this.name}: columns [${outColumn}, ${outColumn + N}) do not fit out (${out.label}) of width ${outWidth}`);
      }
    }
    requireTensor(this.name, 'out', out, [M, outWidth]);
    if ((extra.eps !== undefined) !== !!this.epilogue.normRows) {
      throw new KernelShapeError(`${this.name}: eps ${extra.eps !== undefined ? 'given but the rmsnorm prologue is not compiled in' : 'missing (rmsnorm prologue)'}`);
    }
    if (!!extra.bias !== !!this.epilogue.bias) throw new KernelShapeError(`${this.name}: bias ${extra.bias ? 'given but not compiled in' : 'missing'}`);
    if (!!extra.residual !== !!this.epilogue.residual) {
      throw new KernelShapeError(`${this.name}: residual ${extra.residual ? 'given but not compiled in' : 'missing'}`);
    }
    if (extra.bias) requireTensor(this.name, 'bias', extra.bias, [N]);
    if (extra.residual) requireTensor(this.name, 'residual', extra.residual, [M, N]);
    requireDistinct(this.name, out, [x, w, ...(extra.residual ? [extra.residual] : [])]);
    const tile = MatmulKernel.TILES[this.strategy];
    const groups: [number, number, number] = [Math.ceil(N / tile.cols), Math.ceil(M / tile.rows), 1];
    if (groups[0] > MAX_WORKGROUPS_PER_DIM || groups[1] > MAX_WORKGROUPS_PER_DIM) {
      throw new KernelShapeError(`${this.name}: ${M} x ${N} needs ${groups[0]} x ${groups[1]} workgroups, over ${MAX_WORKGROUPS_PER_DIM} per dimension`);
    }
    return this.dispatch(
      label,
      packParams([M, N, K, extra.eps ?? 0, outWidth, outColumn], new Set([3])),
      [x.buffer, w.buffer, extra.bias?.buffer ?? this.placeholder, extra.residual?.buffer ?? this.placeholder, out.buffer],
      groups,
    );
  }
}

export class RopeQkvKernel extends Kernel {
  static readonly WG = 64;
  /**
   * rope: rotate q and k (default true: NeoBERT, ModernBERT); false splits only (BERT, RoBERTa, XLM-R).
   * outputDtype: storage of q, k, v: 'f32' (default) or 'f16' (halves, for AttentionKernel with
   * arithmetic 'f16'; core WGSL's pack2x16float, no feature needed).
   */
  static async create(
    device: GPUDevice,
    numHeads: number,
    headDim: number,
    options: { rope?: boolean; outputDtype?: 'f32' | 'f16' } = {},
  ): Promise<RopeQkvKernel> {
    if (headDim % 2 !== 0) throw new KernelShapeError(`rope_qkv: head dim ${headDim} must be even`);
    const rope = options.rope ?? true;
    const outputDtype = options.outputDtype ?? 'f32';
    if (outputDtype !== 'f32' && outputDtype !== 'f16') throw new EncoderError(`rope_qkv: unknown output dtype '${outputDtype}'`);
    const name = `${rope ? 'rope_qkv' : 'split_qkv'}${outputDtype === 'f16' ? '.f16' : ''}`;
    const { pipeline, layout } = await Kernel.build(
      device,
      name,
      ropeQkvWGSL,
      ['uniform', 'read', 'read', 'read', 'write', 'write', 'write'],
      { HEAD_DIM: headDim, NUM_HEADS: numHeads, WG: RopeQkvKernel.WG, ROPE: rope, OUT_F16: outputDtype === 'f16' },
    );
    const k = new RopeQkvKernel(name, device, pipeline, layout);
    k.outputDtype = outputDtype;
    k.numHeads = numHeads;
    k.headDim = headDim;
    k.rope = rope;
    k.placeholder = k.createPlaceholder();
    return k;
  }
  private numHeads = 0;
  private headDim = 0;
  /** Whether q and k are rotated (false: the split only). */
  rope = true;
  /** Storage of q, k, v. */
  outputDtype: 'f32' | 'f16' = 'f32';
  private placeholder!: GPUBuffer;

  /**
   * qkv [N, H*3*D], rope [maxLen, D/2, 2], positions u32 [N] -> q, k, v [H, N, D] (f32 or, with
   * outputDtype 'f16', halves: buffers of at least H*N*D*2 bytes). Positions < maxLen.
   * A split-only kernel (rope: false) takes null for rope and positions.
   */
  createDispatch(label: string, qkv: GPUTensor, rope: GPUTensor | null, positions: GPUTensor | null, q: GPUTensor, k: GPUTensor, v: GPUTensor): Dispatch {
    const H = this.numHeads;
    const D = this.headDim;
    if (this.rope !== !!rope || this.rope !== !!positions) {
      throw new KernelShapeError(`${this.name}: ${this.rope ? 'rope table and positions are required' : 'rope table and positions given to a split-only kernel'}`);
    }
    const tokens = positions ? positions.shape[0] : qkv.shape[0];
    requireTensor(this.name, 'qkv', qkv, [tokens, 3 * H * D]);
    if (rope && positions) {
      requireTensor(this.name, 'rope', rope, [rope.shape[0], D / 2, 2]);
      requireTensor(this.name, 'positions', positions, [tokens]);
    }
    const requireOut = this.outputDtype === 'f16' ? requireHalfTensor : requireTensor;
    for (const [name, t] of [['q', q], ['k', k], ['v', v]] as const) requireOut(this.name, name, t, [H, tokens, D]);
    const threads = (tokens * H * D) / 2;
    const [x, y] = foldWorkgroups(Math.ceil(threads / RopeQkvKernel.WG));
    return this.dispatch(
      label,
      packParams([tokens]),
      [qkv.buffer, rope?.buffer ?? this.placeholder, positions?.buffer ?? this.placeholder, q.buffer, k.buffer, v.buffer],
      [x, y, 1],
    );
  }
}

export class AttentionKernel extends Kernel {
  /** Queries per workgroup, from the WGSL; every strategy shares it (one host tile table). */
  static readonly BLOCK_Q = sameConstant('BLOCK_Q', [attentionWGSL, attentionSubgroupWGSL, attentionF16WGSL]);
  /** Keys per workgroup-memory tile of the tiled kernels, from the WGSL. */
  static readonly BLOCK_K = sameConstant('BLOCK_K', [attentionWGSL, attentionF16WGSL]);
  /** Largest head dim the subgroup kernel holds in registers (its MAX_QUADS * 4). */
  static readonly SUBGROUP_MAX_HEAD_DIM = 4 * wgslConstant(attentionSubgroupWGSL, 'MAX_QUADS');

  /** Workgroup memory the tiled kernel declares for a head dim (kernels/attention.wgsl, attention_f16.wgsl). */
  static workgroupBytes(headDim: number, arithmetic: Arithmetic = 'f32'): number {
    const { BLOCK_Q, BLOCK_K } = AttentionKernel;
    const operand = arithmetic === 'f16' ? 2 : 4; // query, key and value tiles; the accumulator stays f32
    return (2 * BLOCK_K + BLOCK_Q) * headDim * operand + BLOCK_Q * headDim * 4 + BLOCK_Q * BLOCK_K * 4 + BLOCK_K * 4 + 3 * BLOCK_Q * 4;
  }

  /**
   * The smallest subgroup size the device guarantees, or 0 without the 'subgroups' feature. When
   * adapterInfo lacks subgroupMinSize (some browsers), SwiftShader counts as 4 wide and others as 0.
   */
  static subgroupMinSize(device: GPUDevice): number {
    return subgroupMinSize(device); // device policy: src/capabilities.ts
  }

  /**
   * Lanes (workgroup size) of the subgroup kernel on this device: 8 when subgroups have at least 8
   * invocations, 4 when they have at least 4 (SwiftShader), else 0 (not usable).
   */
  static subgroupLanes(device: GPUDevice): 0 | 4 | 8 {
    return attentionSubgroupLanes(device);
  }

  /** The default strategy for a device and head dim: 'subgroup' on CPU adapters that can run it. */
  static defaultStrategy(device: GPUDevice, headDim: number): 'tiled' | 'subgroup' {
    return attentionStrategy(device, headDim, AttentionKernel.SUBGROUP_MAX_HEAD_DIM);
  }

  /**
   * strategy 'tiled' (kernels/attention.wgsl: workgroup-memory tiles, any head dim that fits
   * workgroup memory) or 'subgroup' (kernels/attention_subgroup.wgsl: register tiles fed by
   * subgroup broadcasts, head dim <= 64, for CPU adapters; see bench/attention.ts).
   * Default: defaultStrategy(device, headDim). lanes (subgroup only): 4 or 8 invocations per
   * workgroup; default subgroupLanes(device). 4 lanes also run on subgroups of 8 (lanes 0..3).
   * arithmetic 'f16' (kernels/attention_f16.wgsl; shader-f16, strategy 'tiled', the default then):
   * q, k, v are f16 buffers (RopeQkvKernel outputDtype 'f16'), scores, softmax and accumulators f32.
   */
  static async create(
    device: GPUDevice,
    numHeads: number,
    headDim: number,
    options: { strategy?: 'tiled' | 'subgroup'; lanes?: 4 | 8; arithmetic?: Arithmetic; relativeBias?: boolean } = {},
  ): Promise<AttentionKernel> {
    if (headDim % 4 !== 0) throw new KernelShapeError(`attention: head dim ${headDim} must be a multiple of 4`);
    const arithmetic = options.arithmetic ?? 'f32';
    if (arithmetic !== 'f32' && arithmetic !== 'f16') throw new EncoderError(`attention: unknown arithmetic '${arithmetic}'`);
    const strategy = options.strategy ?? (arithmetic === 'f16' ? 'tiled' : AttentionKernel.defaultStrategy(device, headDim));
    if (arithmetic === 'f16') requireF16Arithmetic('attention', device, strategy);
    let lanes = 0;
    if (strategy === 'subgroup') {
      const usable = AttentionKernel.subgroupLanes(device);
      if (options.lanes !== undefined && options.lanes !== 4 && options.lanes !== 8) {
        throw new KernelShapeError(`attention: the subgroup kernel runs 4 or 8 lanes, not ${options.lanes}`);
      }
      lanes = options.lanes ?? usable;
      if (usable === 0 || lanes > usable) {
        const min = AttentionKernel.subgroupMinSize(device);
        throw new KernelShapeError(
          `attention: the subgroup kernel needs the 'subgroups' feature with at least ${lanes || 4} invocations per subgroup ` +
            `(this device: ${device.features.has('subgroups' as GPUFeatureName) ? `subgroups of ${min || '?'}+` : 'no subgroups'}); use strategy 'tiled'`,
        );
      }
      if (headDim > AttentionKernel.SUBGROUP_MAX_HEAD_DIM) {
        throw new KernelShapeError(
          `attention: the subgroup kernel holds head dims up to ${AttentionKernel.SUBGROUP_MAX_HEAD_DIM}, not ${headDim}; use strategy 'tiled'`,
        );
      }
    } else {
      const bytes = AttentionKernel.workgroupBytes(headDim, arithmetic);
      if (bytes > device.limits.maxComputeWorkgroupStorageSize) {
        throw new KernelShapeError(
          `attention: head dim ${headDim} needs ${bytes} bytes of workgroup memory, over this device's ${device.limits.maxComputeWorkgroupStorageSize}`,
        );
      }
    }
    const relativeBias = !!options.relativeBias;
    const name =
      (strategy === 'subgroup' ? (lanes === 4 ? 'attention.subgroup4' : 'attention.subgroup') : arithmetic === 'f16' ? 'attention.f16math' : 'attention') +
      (relativeBias ? '+relbias' : '');
    const { pipeline, layout } = await Kernel.build(
      device,
      name,
      strategy === 'subgroup' ? attentionSubgroupWGSL : arithmetic === 'f16' ? attentionF16WGSL : attentionWGSL,
      ['uniform', 'read', 'read', 'read', 'read', 'read', 'write', 'read'],
      { HEAD_DIM: headDim, NUM_HEADS: numHeads, REL_BIAS: relativeBias, ...(strategy === 'subgroup' ? { LANES: lanes } : {}) },
    );
    const k = new AttentionKernel(name, device, pipeline, layout);
    k.relativeBias = relativeBias;
    k.placeholder = k.createPlaceholder();
    k.numHeads = numHeads;
    k.headDim = headDim;
    k.strategy = strategy;
    k.lanes = lanes;
    k.arithmetic = arithmetic;
    return k;
  }
  private numHeads = 0;
  private headDim = 0;
  strategy: 'tiled' | 'subgroup' = 'tiled';
  /** Invocations per workgroup of the subgroup kernel (4 or 8); 0 for 'tiled'. */
  lanes = 0;
  /** 'f16': q, k, v are f16 buffers. */
  arithmetic: Arithmetic = 'f32';
  /** Whether MPNet's bucketed relative position bias is compiled in (createDispatch then needs its table). */
  relativeBias = false;
  private placeholder!: GPUBuffer;

  /** Buckets of MPNet's relative bias (the kernels' relBucket: T5's bidirectional 32, max_distance 128). */
  static readonly RELATIVE_BUCKETS = 32;

  /** Upper bound on the tiles of any set of sequences totalling `tokens` tokens. */
  static maxTiles(tokens: number, sequences: number): number {
    return Math.ceil(tokens / AttentionKernel.BLOCK_Q) + sequences;
  }

  /** The tile table: (start, length, first query, valid) per workgroup; unused entries invalid. */
  static tileTable(sequences: SequenceRange[], capacity: number): Uint32Array<ArrayBuffer> {
    const table = new Uint32Array(capacity * 4);
    let n = 0;
    for (const { start, length } of sequences) {
      for (let q0 = 0; q0 < length; q0 += AttentionKernel.BLOCK_Q) {
        if (n >= capacity) throw new KernelShapeError(`attention: more than ${capacity} tiles for ${sequences.length} sequences`);
        table.set([start, length, q0, 1], 4 * n++);
      }
    }
    return table;
  }

  /** params.window of global attention (every key of the sequence). */
  static readonly WINDOW_GLOBAL = 0xffffffff;

  /**
   * q, k, v [H, N, D] (f32, or halves with arithmetic 'f16'), keyMask u32 [N], tiles u32 [maxTiles, 4]
   * (see tileTable) -> out f32 [N, H*D].
   * Every sequence needs an unmasked key. options.window = w: sliding-window (local) attention,
   * query i attends key j only if |i - j| <= w (positions within the sequence; ModernBERT's local
   * layers: w = local_attention / 2, e.g. 64), and the kernel then reads only the keys within
   * reach of each query tile: O(L * w) work. Default: global. A masked query row with no unmasked
   * key in its window gets zeros (its output is padding nobody reads).
   * options.relativeBias (a kernel created with relativeBias): f32 [R >= 32, H], MPNet's shared
   * table; scores[h, i, j] += table[bucket(i - j), h] with the bucket computed in the kernel from
   * the positions within the sequence (rows 32.. of a larger table are never read, as in MPNet).
   */
  createDispatch(
    label: string,
    q: GPUTensor,
    k: GPUTensor,
    v: GPUTensor,
    keyMask: GPUTensor,
    tiles: GPUTensor,
    out: GPUTensor,
    options: { window?: number; relativeBias?: GPUTensor } = {},
  ): Dispatch {
    const { window, relativeBias } = options;
    if (!!relativeBias !== this.relativeBias) {
      throw new KernelShapeError(`${this.name}: relative bias table ${relativeBias ? 'given but not compiled in' : 'missing'}`);
    }
    if (relativeBias) {
      const [rows, heads] = relativeBias.shape;
      if (relativeBias.shape.length !== 2 || rows < AttentionKernel.RELATIVE_BUCKETS || heads !== this.numHeads) {
        throw new KernelShapeError(`${this.name}: relative bias table (${relativeBias.label}) has shape [${relativeBias.shape}], expected [>= ${AttentionKernel.RELATIVE_BUCKETS}, ${this.numHeads}]`);
      }
      requireTensor(this.name, 'relative bias', relativeBias, [rows, heads]);
    }
    if (window !== undefined && !(Number.isInteger(window) && window >= 0 && window < AttentionKernel.WINDOW_GLOBAL)) {
      throw new KernelShapeError(`${this.name}: window ${window} must be an integer in [0, ${AttentionKernel.WINDOW_GLOBAL - 1}] (omit it for global attention)`);
    }
    const [H, N, D] = q.shape;
    if (H !== this.numHeads || D !== this.headDim) {
      throw new KernelShapeError(`attention: q has ${H} heads of ${D}, kernel built for ${this.numHeads} of ${this.headDim}`);
    }
    const requireOperand = this.arithmetic === 'f16' ? requireHalfTensor : requireTensor;
    for (const [name, t] of [['q', q], ['k', k], ['v', v]] as const) requireOperand(this.name, name, t, [H, N, D]);
    requireTensor(this.name, 'keyMask', keyMask, [N]);
    const maxTiles = tiles.shape[0];
    requireTensor(this.name, 'tiles', tiles, [maxTiles, 4]);
    requireTensor(this.name, 'out', out, [N, H * D]);
    return this.dispatch(
      label,
      packParams([N, 1 / Math.sqrt(D), window ?? AttentionKernel.WINDOW_GLOBAL], new Set([1])),
      [q.buffer, k.buffer, v.buffer, keyMask.buffer, tiles.buffer, out.buffer, relativeBias?.buffer ?? this.placeholder],
      [maxTiles, H, 1],
    );
  }
}

/**
 * DeBERTa's position terms (kernels/relative_scores.wgsl): c2p = q Kr^T and p2c = k Qr^T for every
 * token and every one of the R = 2 * span relative rows, per head: O(N * R * D) per head.
 */
export class RelativeScoresKernel extends Kernel {
  static readonly TILE = wgslConstant(relativeScoresWGSL, 'TILE');
  /** Token rows per workgroup of the subgroup kernel. */
  static readonly BLOCK_N = wgslConstant(relativeScoresSubgroupWGSL, 'BLOCK_N');

  /**
   * strategy 'tiled' (kernels/relative_scores.wgsl: workgroup-memory tiles, any adapter) or
   * 'subgroup' (kernels/relative_scores_subgroup.wgsl: register tiles fed by subgroup broadcasts,
   * head dim <= 64, for CPU adapters); default AttentionKernel.defaultStrategy. lanes as AttentionKernel's.
   */
  static async create(device: GPUDevice, numHeads: number, headDim: number, options: { strategy?: 'tiled' | 'subgroup'; lanes?: 4 | 8 } = {}): Promise<RelativeScoresKernel> {
    if (headDim % 4 !== 0) throw new KernelShapeError(`relative_scores: head dim ${headDim} must be a multiple of 4`);
    const strategy = options.strategy ?? AttentionKernel.defaultStrategy(device, headDim);
    let lanes = 0;
    if (strategy === 'subgroup') {
      const usable = AttentionKernel.subgroupLanes(device);
      lanes = options.lanes ?? usable;
      if (usable === 0 || lanes > usable || (lanes !== 4 && lanes !== 8)) {
        throw new KernelShapeError(`relative_scores: the subgroup kernel needs the 'subgroups' feature with at least ${lanes || 4} invocations per subgroup (4 or 8 lanes); use strategy 'tiled'`);
      }
      if (headDim > AttentionKernel.SUBGROUP_MAX_HEAD_DIM) {
        throw new KernelShapeError(`relative_scores: the subgroup kernel holds head dims up to ${AttentionKernel.SUBGROUP_MAX_HEAD_DIM}, not ${headDim}; use strategy 'tiled'`);
      }
    } else {
      const bytes = 2 * RelativeScoresKernel.TILE * headDim * 4;
      if (bytes > device.limits.maxComputeWorkgroupStorageSize) {
        throw new KernelShapeError(`relative_scores: head dim ${headDim} needs ${bytes} bytes of workgroup memory, over this device's ${device.limits.maxComputeWorkgroupStorageSize}`);
      }
    }
    const name = strategy === 'subgroup' ? `relative_scores.subgroup${lanes === 4 ? '4' : ''}` : 'relative_scores';
    const { pipeline, layout } = await Kernel.build(
      device,
      name,
      strategy === 'subgroup' ? relativeScoresSubgroupWGSL : relativeScoresWGSL,
      ['uniform', 'read', 'read', 'read', 'write', 'read'],
      strategy === 'subgroup' ? { HEAD_DIM: headDim, NUM_HEADS: numHeads, LANES: lanes } : { HEAD_DIM: headDim, NUM_HEADS: numHeads },
    );
    const k = new RelativeScoresKernel(name, device, pipeline, layout);
    k.numHeads = numHeads;
    k.headDim = headDim;
    k.strategy = strategy;
    return k;
  }
  strategy: 'tiled' | 'subgroup' = 'tiled';
  private numHeads = 0;
  private headDim = 0;

  /**
   * q, k f32 [H, N, D], relProj f32 [2, H, R, D] (Kr, Qr) -> out f32 [2, H, N, R] (c2p, p2c), for
   * the relative rows [rows[0], rows[1]) only (rows: u32 [4], written per call; see relativeRowWindow).
   */
  createDispatch(label: string, q: GPUTensor, k: GPUTensor, relProj: GPUTensor, out: GPUTensor, rows: GPUTensor): Dispatch {
    const [H, N, D] = q.shape;
    if (H !== this.numHeads || D !== this.headDim) throw new KernelShapeError(`${this.name}: q has ${H} heads of ${D}, kernel built for ${this.numHeads} of ${this.headDim}`);
    requireTensor(this.name, 'q', q, [H, N, D]);
    requireTensor(this.name, 'k', k, [H, N, D]);
    const R = relProj.shape[2];
    requireTensor(this.name, 'relProj', relProj, [2, H, R, D]);
    requireTensor(this.name, 'out', out, [2, H, N, R]);
    requireDistinct(this.name, out, [q, k, relProj]);
    requireTensor(this.name, 'rows', rows, [4]);
    const T = RelativeScoresKernel.TILE;
    const groups: [number, number, number] =
      this.strategy === 'subgroup' ? [Math.ceil(N / RelativeScoresKernel.BLOCK_N), 2 * H, 1] : [Math.ceil(R / T), Math.ceil(N / T), 2 * H];
    if (Math.max(groups[0], groups[1]) > MAX_WORKGROUPS_PER_DIM) throw new KernelShapeError(`${this.name}: ${N} tokens need ${groups.join(' x ')} workgroups, over ${MAX_WORKGROUPS_PER_DIM} per dimension`);
    return this.dispatch(label, packParams([N, R]), [q.buffer, k.buffer, relProj.buffer, out.buffer, rows.buffer], groups);
  }
}

/**
 * DeBERTa-v2/v3 disentangled attention (kernels/attention_disentangled.wgsl): the tiled online-softmax
 * attention plus c2p and p2c gathered per (query, key) at the relative index of bucketTable.
 */
export class DisentangledAttentionKernel extends Kernel {
  /**
   * strategy 'tiled' (kernels/attention_disentangled.wgsl, workgroup memory, any adapter) or
   * 'subgroup' (kernels/attention_disentangled_subgroup.wgsl: attention_subgroup.wgsl's register
   * tiles, head dim <= 64, for CPU adapters); default AttentionKernel.defaultStrategy. lanes as
   * AttentionKernel's.
   */
  static async create(device: GPUDevice, numHeads: number, headDim: number, options: { strategy?: 'tiled' | 'subgroup'; lanes?: 4 | 8 } = {}): Promise<DisentangledAttentionKernel> {
    if (headDim % 4 !== 0) throw new KernelShapeError(`attention_disentangled: head dim ${headDim} must be a multiple of 4`);
    const strategy = options.strategy ?? AttentionKernel.defaultStrategy(device, headDim);
    let lanes = 0;
    if (strategy === 'subgroup') {
      const usable = AttentionKernel.subgroupLanes(device);
      lanes = options.lanes ?? usable;
      if (usable === 0 || lanes > usable || (lanes !== 4 && lanes !== 8)) {
        throw new KernelShapeError(`attention_disentangled: the subgroup kernel needs the 'subgroups' feature with at least ${lanes || 4} invocations per subgroup (4 or 8 lanes); use strategy 'tiled'`);
      }
      if (headDim > AttentionKernel.SUBGROUP_MAX_HEAD_DIM) {
        throw new KernelShapeError(`attention_disentangled: the subgroup kernel holds head dims up to ${AttentionKernel.SUBGROUP_MAX_HEAD_DIM}, not ${headDim}; use strategy 'tiled'`);
      }
    } else {
      const bytes = AttentionKernel.workgroupBytes(headDim);
      if (bytes > device.limits.maxComputeWorkgroupStorageSize) {
        throw new KernelShapeError(`attention_disentangled: head dim ${headDim} needs ${bytes} bytes of workgroup memory, over this device's ${device.limits.maxComputeWorkgroupStorageSize}`);
      }
    }
    const name = strategy === 'subgroup' ? `attention_disentangled.subgroup${lanes === 4 ? '4' : ''}` : 'attention_disentangled';
    const { pipeline, layout } = await Kernel.build(
      device,
      name,
      strategy === 'subgroup' ? attentionDisentangledSubgroupWGSL : attentionDisentangledWGSL,
      ['uniform', 'read', 'read', 'read', 'read', 'read', 'write', 'read', 'read'],
      strategy === 'subgroup' ? { HEAD_DIM: headDim, NUM_HEADS: numHeads, LANES: lanes } : { HEAD_DIM: headDim, NUM_HEADS: numHeads },
    );
    const k = new DisentangledAttentionKernel(name, device, pipeline, layout);
    k.numHeads = numHeads;
    k.headDim = headDim;
    k.strategy = strategy;
    return k;
  }
  strategy: 'tiled' | 'subgroup' = 'tiled';
  private numHeads = 0;
  private headDim = 0;

  /**
   * q, k, v f32 [H, N, D], keyMask u32 [N], tiles u32 [maxTiles, 4] (AttentionKernel.tileTable),
   * rel f32 [2, H, N, R] (RelativeScoresKernel), bucketTable u32 [T] (debertaBucketTable) -> out
   * f32 [N, H*D]; scores scaled by `scale` (1 / sqrt(3 D) with c2p and p2c).
   */
  createDispatch(
    label: string,
    q: GPUTensor,
    k: GPUTensor,
    v: GPUTensor,
    keyMask: GPUTensor,
    tiles: GPUTensor,
    rel: GPUTensor,
    bucketTable: GPUTensor,
    out: GPUTensor,
    scale: number,
  ): Dispatch {
    const [H, N, D] = q.shape;
    if (H !== this.numHeads || D !== this.headDim) throw new KernelShapeError(`${this.name}: q has ${H} heads of ${D}, kernel built for ${this.numHeads} of ${this.headDim}`);
    for (const [name, t] of [['q', q], ['k', k], ['v', v]] as const) requireTensor(this.name, name, t, [H, N, D]);
    requireTensor(this.name, 'keyMask', keyMask, [N]);
    const maxTiles = tiles.shape[0];
    requireTensor(this.name, 'tiles', tiles, [maxTiles, 4]);
    const R = rel.shape[3];
    if (!(R >= 2 && R % 2 === 0)) throw new KernelShapeError(`${this.name}: rel (${rel.label}) has ${R} relative rows; expected an even count >= 2 (2 * span)`);
    requireTensor(this.name, 'rel', rel, [2, H, N, R]);
    const T = bucketTable.shape[0];
    if (!(T >= 1)) throw new KernelShapeError(`${this.name}: bucket table (${bucketTable.label}) is empty`);
    requireTensor(this.name, 'bucketTable', bucketTable, [T]);
    requireTensor(this.name, 'out', out, [N, H * D]);
    if (!(scale > 0)) throw new KernelShapeError(`${this.name}: scale ${scale} must be > 0`);
    return this.dispatch(
      label,
      packParams([N, scale, R / 2, T], new Set([1])),
      [q.buffer, k.buffer, v.buffer, keyMask.buffer, tiles.buffer, out.buffer, rel.buffer, bucketTable.buffer],
      [maxTiles, H, 1],
    );
  }
}

export class PoolingKernel extends Kernel {
  static readonly WG = 64;
  static async create(device: GPUDevice): Promise<PoolingKernel> {
    const { pipeline, layout } = await Kernel.build(device, 'pooling', poolingWGSL, ['uniform', 'read', 'read', 'read', 'write', 'write'], {
      WG: PoolingKernel.WG,
    });
    return new PoolingKernel('pooling', device, pipeline, layout);
  }

  /**
   * (start, length, valid, excluded) per output row; rows past the given sequences are invalid.
   * excluded[i]: leading tokens of sequence i that sentence pooling leaves out (include_prompt
   * false); the CLS / mean pooling here ignores it.
   */
  static sequenceTable(sequences: SequenceRange[], capacity: number, excluded?: ArrayLike<number> | null): Uint32Array<ArrayBuffer> {
    if (sequences.length > capacity) throw new KernelShapeError(`pooling: ${sequences.length} sequences, capacity ${capacity}`);
    const table = new Uint32Array(capacity * 4);
    sequences.forEach(({ start, length }, i) => table.set([start, length, 1, excluded?.[i] ?? 0], 4 * i));
    return table;
  }

  /** x [N, C], mask u32 [N], sequences u32 [S, 4] (see sequenceTable) -> cls [S, C], mean [S, C]. */
  createDispatch(label: string, x: GPUTensor, mask: GPUTensor, sequences: GPUTensor, cls: GPUTensor, mean: GPUTensor): Dispatch {
    const [N, C] = x.shape;
    const S = sequences.shape[0];
    requireTensor(this.name, 'x', x, [N, C]);
    requireTensor(this.name, 'mask', mask, [N]);
    requireTensor(this.name, 'sequences', sequences, [S, 4]);
    requireTensor(this.name, 'cls', cls, [S, C]);
    requireTensor(this.name, 'mean', mean, [S, C]);
    return this.dispatch(label, packParams([C]), [x.buffer, mask.buffer, sequences.buffer, cls.buffer, mean.buffer], [
      Math.ceil(C / PoolingKernel.WG),
      S,
      1,
    ]);
  }
}

export class L2NormKernel extends Kernel {
  static async create(device: GPUDevice): Promise<L2NormKernel> {
    const { pipeline, layout } = await Kernel.build(device, 'l2norm', l2normWGSL, ['uniform', 'read', 'write'], {});
    return new L2NormKernel('l2norm', device, pipeline, layout);
  }

  /** x [rows, cols] -> out [rows, cols], rows scaled to unit L2 norm. */
  createDispatch(label: string, x: GPUTensor, out: GPUTensor): Dispatch {
    const [rows, cols] = x.shape;
    requireTensor(this.name, 'x', x, [rows, cols]);
    requireTensor(this.name, 'out', out, [rows, cols]);
    requireDistinct(this.name, out, [x]);
    const [gx, gy] = foldWorkgroups(rows);
    return this.dispatch(label, packParams([rows, cols]), [x.buffer, out.buffer], [gx, gy, 1]);
  }
}

/** sentence-transformers pooling modes, by their MODE override in kernels/sentence_pooling.wgsl. */
export const SENTENCE_POOLING_MODES = { cls: 0, max: 1, mean: 2, mean_sqrt_len_tokens: 3, weightedmean: 4, lasttoken: 5 } as const;
export type SentencePoolingMode = keyof typeof SENTENCE_POOLING_MODES;

/** One sentence-transformers pooling mode (kernels/sentence_pooling.wgsl), compiled per mode. */
export class SentencePoolingKernel extends Kernel {
  static readonly WG = 64;
  static async create(device: GPUDevice, mode: SentencePoolingMode): Promise<SentencePoolingKernel> {
    if (!Object.hasOwn(SENTENCE_POOLING_MODES, mode)) throw new EncoderError(`sentence_pooling: unknown mode '${mode}'`);
    const name = `sentence_pooling.${mode}`;
    const { pipeline, layout } = await Kernel.build(device, name, sentencePoolingWGSL, ['uniform', 'read', 'read', 'read', 'write'], {
      WG: SentencePoolingKernel.WG,
      MODE: SENTENCE_POOLING_MODES[mode],
    });
    const k = new SentencePoolingKernel(name, device, pipeline, layout);
    k.mode = mode;
    return k;
  }
  mode: SentencePoolingMode = 'mean';

  /**
   * x [N, C], mask u32 [N], sequences u32 [S, 4] (PoolingKernel.sequenceTable, with the excluded
   * leading tokens) -> columns [outColumn, outColumn + C) of out [S, W].
   */
  createDispatch(label: string, x: GPUTensor, mask: GPUTensor, sequences: GPUTensor, out: GPUTensor, outColumn = 0): Dispatch {
    const [N, C] = x.shape;
    const S = sequences.shape[0];
    const W = out.shape[1];
    requireTensor(this.name, 'x', x, [N, C]);
    requireTensor(this.name, 'mask', mask, [N]);
    requireTensor(this.name, 'sequences', sequences, [S, 4]);
    requireTensor(this.name, 'out', out, [S, W]);
    if (!Number.isInteger(outColumn) || outColumn < 0 || outColumn + C > W) {
      throw new KernelShapeError(`${this.name}: columns [${outColumn}, ${outColumn + C}) do not fit out (${out.label}) of width ${W}`);
    }
    requireDistinct(this.name, out, [x]);
    return this.dispatch(label, packParams([C, W, outColumn]), [x.buffer, mask.buffer, sequences.buffer, out.buffer], [Math.ceil(C / SentencePoolingKernel.WG), S, 1]);
  }
}

export class LoraKernel extends Kernel {
  static readonly WG = 64;

  /**
   * The per-row task LoRA term of an adapted Linear or Embedding (kernels/lora.wgsl), added in
   * place to what the plain matmul (or gather) wrote, then `activation` (the adapted layer's own,
   * which its matmul must then leave out). One pipeline per activation.
   */
  static async create(device: GPUDevice, options: { activation?: MatmulActivation } = {}): Promise<LoraKernel> {
    const activation = options.activation ?? 'none';
    if (!(activation in MATMUL_ACTIVATIONS)) throw new EncoderError(`lora: unknown activation '${activation}'`);
    const name = `lora${activation !== 'none' ? `+${activation}` : ''}`;
    const { pipeline, layout } = await Kernel.build(device, name, loraWGSL, ['uniform', 'read', 'read', 'read', 'write'], {
      WG: LoraKernel.WG,
      ACTIVATION: MATMUL_ACTIVATIONS[activation],
    });
    return new LoraKernel(name, device, pipeline, layout);
  }

  /**
   * z [M, Z] (task t's R values at columns tR .. tR + R - 1, Z >= T R), b [T, N, R] (the tasks'
   * scaled B), tasks u32 [M] (a value >= T: no task) -> out [M, N] += z_t b_t^T, then act, in place.
   */
  createDispatch(label: string, z: GPUTensor, b: GPUTensor, tasks: GPUTensor, out: GPUTensor): Dispatch {
    const [M, N] = out.shape;
    if (b.shape.length !== 3) throw new KernelShapeError(`${this.name}: b (${b.label}) has shape [${b.shape}], expected [tasks, ${N}, rank]`);
    const [T, , R] = b.shape;
    requireTensor(this.name, 'out', out, [M, N]);
    requireTensor(this.name, 'b', b, [T, N, R]);
    requireTensor(this.name, 'tasks', tasks, [M]);
    const Z = z.shape[1];
    requireTensor(this.name, 'z', z, [M, Z]);
    if (R < 1 || Z < T * R) throw new KernelShapeError(`${this.name}: z (${z.label}) has ${Z} columns, fewer than ${T} tasks x rank ${R}`);
    requireDistinct(this.name, out, [z, b, tasks]);
    const [x, y] = foldWorkgroups(M);
    return this.dispatch(label, packParams([M, N, R, T, Z]), [z.buffer, b.buffer, tasks.buffer, out.buffer], [x, y, 1]);
  }
}
