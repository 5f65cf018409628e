// Result file shape, the target ratios the issue names, and the printed summary (browser-safe).
import type { PointResult } from './grid';
import type { MatmulResult } from './matmul';
import { fmt, table } from './stats';

export interface BenchResult {
  schema: 'neobert-bench/1';
  date: string;
  runtime: 'node' | 'browser';
  /** The adapter our engine ran on, in words (vendor / architecture (description)). */
  adapter: string;
  adapterInfo: { vendor: string; architecture: string; device: string; description: string; features: string[] };
  host: Record<string, unknown>;
  model: Record<string, unknown>;
  options: Record<string, unknown>;
  load: Record<string, Record<string, unknown>>;
  /** One entry per engine and (seq, batch): forward passes with readback of last_hidden_state. */
  results: PointResult[];
  matmul: MatmulResult[];
  targets: Targets;
  peers: Record<string, { status: 'ran' | 'failed' | 'skipped'; detail?: string; [k: string]: unknown }>;
  errors: { engine: string; backend: string; seq?: number; batch?: number; message: string }[];
  notes: string[];
}

export interface Targets {
  /** ours / onnxruntime-web (WebGPU EP, same adapter) tokens/s at batch 8. */
  vsOrtWebgpu: { seq: number; batch: number; ours?: number; ort?: number; ratio?: number; why?: string }[];
  /** GFLOP/s of the matmul kernel our model uses here, as a fraction of the best WebGPU figure measured on this adapter, per shape. */
  matmulFraction: { shape: string; ours: number; oursVariant: string; best: number; bestBy: string; fraction: number; vsTorchCpu?: number }[];
  matmulFractionGeomean?: number;
}

export function computeTargets(results: PointResult[], matmul: MatmulResult[], ourDevice: string, torchMatmul: Record<string, number> = {}): Targets {
  const vsOrtWebgpu: Targets['vsOrtWebgpu'] = [];
  for (const seq of [128, 512]) {
    const batch = 8;
    const ours = results.find((r) => r.engine === 'neobert-webgpu' && r.seq === seq && r.batch === batch);
    const ort = results.find((r) => r.engine === 'onnxruntime-web' && r.backend === 'webgpu' && r.seq === seq && r.batch === batch);
    const row: Targets['vsOrtWebgpu'][number] = { seq, batch, ours: ours?.tokensPerSecond, ort: ort?.tokensPerSecond };
    if (!ours) row.why = 'our engine did not run this point';
    else if (!ort) row.why = 'onnxruntime-web (WebGPU EP) did not run this point';
    else if (ort.device !== ourDevice) row.why = `different adapters (ours: ${ourDevice}; ORT: ${ort.device})`;
    else row.ratio = ours.tokensPerSecond / ort.tokensPerSecond;
    vsOrtWebgpu.push(row);
  }
  const matmulFraction: Targets['matmulFraction'] = [];
  for (const shape of [...new Set(matmul.map((m) => m.shape))]) {
    const rows = matmul.filter((m) => m.shape === shape);
    const ours = rows.filter((m) => m.engine === 'neobert-webgpu');
    if (ours.length === 0) continue;
    // Ours = the kernel the model uses on this device (the first variant measured); the best is
    // over every WebGPU kernel measured here, our other strategy included.
    const oursDefault = ours[0];
    const best = rows.reduce((a, b) => (b.gflops > a.gflops ? b : a));
    const row: Targets['matmulFraction'][number] = {
      shape,
      ours: oursDefault.gflops,
      oursVariant: oursDefault.variant,
      best: best.gflops,
      bestBy: `${best.engine}/${best.variant}`,
      fraction: oursDefault.gflops / best.gflops,
    };
    if (torchMatmul[shape]) row.vsTorchCpu = oursDefault.gflops / torchMatmul[shape];
    matmulFraction.push(row);
  }
  const geo = matmulFraction.length ? Math.exp(matmulFraction.reduce((s, r) => s + Math.log(r.fraction), 0) / matmulFraction.length) : undefined;
  return { vsOrtWebgpu, matmulFraction, matmulFractionGeomean: geo };
}

export function summary(r: BenchResult): string {
  const lines: string[] = [];
  lines.push(`adapter (ours): ${r.adapter}   runtime: ${r.runtime}   model: ${String(r.model.label)}`);
  const engines = [...new Set(r.results.map((x) => `${x.engine}/${x.backend}`))];
  const points = [...new Set(r.results.map((x) => `${x.seq}x${x.batch}`))];
  lines.push('');
  lines.push('tokens/s (median; ms per batch in brackets), seq x batch:');
  lines.push(
    table(
      ['engine', ...points],
      engines.map((e) => [
        e,
        ...points.map((p) => {
          const x = r.results.find((y) => `${y.engine}/${y.backend}` === e && `${y.seq}x${y.batch}` === p);
          return x ? `${fmt.rate(x.tokensPerSecond)} (${fmt.ms(x.msPerBatch)})` : '-';
        }),
      ]),
    ),
  );
  const devices = new Map(r.results.map((x) => [`${x.engine}/${x.backend}`, x.device]));
  lines.push('devices: ' + [...devices].map(([e, d]) => `${e} = ${d}`).join('; '));
  const ours = r.results.filter((x) => x.engine === 'neobert-webgpu');
  if (ours.some((x) => x.memory)) {
    lines.push('');
    lines.push('ours: first call, spread and GPU memory (weights + plan + staging):');
    lines.push(
      table(
        ['seq x batch', 'first ms', 'p25-p75 ms', 'rel IQR', 'GPU memory'],
        ours.map((x) => [
          `${x.seq}x${x.batch}`,
          fmt.ms(x.firstCallMs),
          `${fmt.ms(x.spread.p25)}-${fmt.ms(x.spread.p75)}`,
          fmt.pct(x.spread.relIqr),
          fmt.bytes((x.memory as { totalBytes: number } | undefined)?.totalBytes),
        ]),
      ),
    );
  }
  for (const x of ours.filter((y) => y.profile)) {
    const p = x.profile as { kernels: Record<string, { ms: number; count: number }>; totalMs: number };
    const rows = Object.entries(p.kernels).sort((a, b) => b[1].ms - a[1].ms);
    lines.push('');
    lines.push(`ours: GPU time per kernel kind at ${x.seq}x${x.batch} (timestamp queries, one pass per dispatch; total ${fmt.ms(p.totalMs)} ms):`);
    lines.push(table(['kernel', 'ms', 'share', 'dispatches'], rows.map(([k, v]) => [k, fmt.ms(v.ms), fmt.pct(v.ms / p.totalMs), v.count])));
  }
  if (r.matmul.length) {
    lines.push('');
    lines.push('matmul GFLOP/s (y = x W^T, median):');
    lines.push(
      table(
        ['shape', 'M x N x K', 'engine', 'ms', 'GFLOP/s', 'rel L2 vs ours'],
        r.matmul.map((m) => [m.shape, `${m.M}x${m.N}x${m.K}`, `${m.engine}/${m.variant}`, fmt.ms(m.msPerCall), m.gflops.toFixed(3), m.engine === 'neobert-webgpu' && m.relL2VsOurs === 0 ? '-' : m.relL2VsOurs === undefined ? '?' : m.relL2VsOurs.toExponential(1)]),
      ),
    );
  }
  lines.push('');
  lines.push('targets (same run, same machine):');
  for (const t of r.targets.vsOrtWebgpu) {
    lines.push(
      `  ours vs onnxruntime-web WebGPU, seq ${t.seq} batch ${t.batch}: ` +
        (t.ratio !== undefined ? `${t.ratio.toFixed(2)}x (${fmt.rate(t.ours)} vs ${fmt.rate(t.ort)} tokens/s)` : `n/a: ${t.why}`),
    );
  }
  for (const m of r.targets.matmulFraction) {
    lines.push(
      `  matmul ${m.shape}: ours (${m.oursVariant}) ${m.ours.toFixed(3)} GFLOP/s = ${fmt.pct(m.fraction)} of the best WebGPU figure on this adapter (${m.best.toFixed(3)}, ${m.bestBy})` +
        (m.vsTorchCpu !== undefined ? `; ${m.vsTorchCpu.toFixed(2)}x PyTorch CPU` : ''),
    );
  }
  if (r.targets.matmulFractionGeomean !== undefined) lines.push(`  matmul, geometric mean over shapes: ${fmt.pct(r.targets.matmulFractionGeomean)} of the best`);
  const failed = Object.entries(r.peers).filter(([, p]) => p.status !== 'ran');
  if (failed.length) {
    lines.push('');
    lines.push('peers that did not run:');
    for (const [name, p] of failed) lines.push(`  ${name}: ${p.status}: ${p.detail}`);
  }
  return lines.join('\n');
}
