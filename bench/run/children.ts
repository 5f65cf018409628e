// Node-only: peers that run in child processes, driven one call at a time so the harness can
// interleave them with our engine (each child times its own call).
//   OrtChild   -- bench/peers/ort-node.ts (bundled here with esbuild), over the IPC channel
//   TorchChild -- bench/peers/neobert_torch.py serve, over stdin/stdout JSON lines
import { fork, spawn, type ChildProcess } from 'node:child_process';
import { mkdirSync } from 'node:fs';
import path from 'node:path';
import { createInterface } from 'node:readline';
import { build } from 'esbuild';

/** Bundles a TS entry (WGSL ?raw imports not needed) to node_modules/.bench-run/<name>.mjs. */
export async function bundle(root: string, entry: string, name: string): Promise<string> {
  const dir = path.join(root, 'node_modules', '.bench-run');
  mkdirSync(dir, { recursive: true });
  const outfile = path.join(dir, `${name}.mjs`);
  await build({
    entryPoints: [path.join(root, entry)],
    outfile,
    bundle: true,
    platform: 'node',
    format: 'esm',
    target: 'node20',
    packages: 'external',
    logLevel: 'warning',
    absWorkingDir: root,
  });
  return outfile;
}

function withTimeout<T>(p: Promise<T>, ms: number, what: string): Promise<T> {
  if (!Number.isFinite(ms) || ms <= 0) return p;
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`${what}: no answer within ${(ms / 1000).toFixed(0)} s`)), ms);
    p.then(
      (v) => (clearTimeout(timer), resolve(v)),
      (e) => (clearTimeout(timer), reject(e)),
    );
  });
}

export class OrtChild {
  private waiting: ((m: Record<string, unknown>) => void) | null = null;
  private exited: string | null = null;
  private stderr = '';
  readonly ready: Record<string, unknown> = {};

  private constructor(private readonly child: ChildProcess) {
    child.on('message', (m: Record<string, unknown>) => {
      if (m.type === 'hello') return;
      const w = this.waiting;
      this.waiting = null;
      w?.(m);
    });
    child.stderr?.on('data', (d: Buffer) => {
      this.stderr = (this.stderr + d.toString()).slice(-4000);
    });
    child.on('exit', (code, signal) => {
      this.exited = `exited with ${signal ?? `code ${code}`}`;
      const w = this.waiting;
      this.waiting = null;
      w?.({ type: 'error', message: `child ${this.exited}${this.lastStderr() ? `: ${this.lastStderr()}` : ''}` });
    });
  }

  lastStderr(): string {
    return this.stderr
      .split('\n')
      .filter((l) => l.trim() && !/maxDynamic(Uniform|Storage)BuffersPerPipelineLayout|XDG_RUNTIME_DIR/.test(l))
      .slice(-3)
      .join(' | ');
  }

  static async start(
    script: string,
    backend: 'webgpu' | 'wasm',
    model: string,
    opts: { execArgv: string[]; timeoutMs: number; threads?: number; tickMs?: number; skipProbe?: boolean },
  ): Promise<OrtChild> {
    const child = fork(script, [], { execArgv: opts.execArgv, stdio: ['ignore', 'ignore', 'pipe', 'ipc'] });
    const c = new OrtChild(child);
    const reply = await c.call({ type: 'init', backend, model, threads: opts.threads, tickMs: opts.tickMs, skipProbe: opts.skipProbe }, opts.timeoutMs);
    Object.assign(c.ready, reply);
    return c;
  }

  private call(message: Record<string, unknown>, timeoutMs = 0): Promise<Record<string, unknown>> {
    if (this.exited) return Promise.reject(new Error(`ORT child ${this.exited}`));
    const p = new Promise<Record<string, unknown>>((resolve, reject) => {
      this.waiting = (m) => (m.type === 'error' ? reject(new Error(String(m.message))) : resolve(m));
    });
    this.child.send(message);
    return withTimeout(p, timeoutMs, `onnxruntime-web (${String(message.type)})`);
  }

  async setInputs(seq: number, batch: number, ids: Int32Array): Promise<void> {
    await this.call({ type: 'inputs', seq, batch, ids: Array.from(ids) });
  }

  async run(timeoutMs = 0): Promise<number> {
    return (await this.call({ type: 'run' }, timeoutMs)).ms as number;
  }

  async output(): Promise<Float32Array> {
    return Float32Array.from((await this.call({ type: 'output' })).data as number[]);
  }

  stop(): void {
    if (this.exited) return;
    try {
      this.child.send({ type: 'quit' });
    } catch {
      /* already gone */
    }
    setTimeout(() => {
      if (!this.exited) this.child.kill('SIGKILL');
    }, 3000).unref();
  }
}

export class TorchChild {
  private waiting: ((m: Record<string, unknown>) => void) | null = null;
  private stderr = '';
  private exited: string | null = null;
  ready: Record<string, unknown> = {};

  private constructor(private readonly child: ChildProcess) {
    const lines = createInterface({ input: child.stdout! });
    lines.on('line', (line) => {
      let m: Record<string, unknown>;
      try {
        m = JSON.parse(line);
      } catch {
        return;
      }
      const w = this.waiting;
      this.waiting = null;
      w?.(m);
    });
    child.stderr?.on('data', (d: Buffer) => {
      this.stderr = (this.stderr + d.toString()).slice(-4000);
    });
    child.on('exit', (code, signal) => {
      this.exited = `exited with ${signal ?? `code ${code}`}`;
      const w = this.waiting;
      this.waiting = null;
      w?.({ error: `python ${this.exited}: ${this.stderr.trim().split('\n').slice(-2).join(' | ')}` });
    });
    child.on('error', (e) => {
      this.exited = e.message;
      const w = this.waiting;
      this.waiting = null;
      w?.({ error: e.message });
    });
  }

  static async start(python: string, script: string, modelArgs: string[], opts: { threads: number; timeoutMs: number }): Promise<TorchChild> {
    const child = spawn(python, [script, 'serve', ...modelArgs, '--threads', String(opts.threads)], { stdio: ['pipe', 'pipe', 'pipe'] });
    const c = new TorchChild(child);
    c.ready = await withTimeout(c.next(), opts.timeoutMs, 'pytorch (start)');
    if (c.ready.error) throw new Error(String(c.ready.error));
    return c;
  }

  private next(): Promise<Record<string, unknown>> {
    return new Promise((resolve) => (this.waiting = resolve));
  }

  private async call(message: Record<string, unknown>): Promise<Record<string, unknown>> {
    if (this.exited) throw new Error(`pytorch ${this.exited}`);
    const p = this.next();
    this.child.stdin!.write(`${JSON.stringify(message)}\n`);
    const m = await p;
    if (m.error) throw new Error(String(m.error));
    return m;
  }

  async setInputs(seq: number, batch: number, ids: Int32Array): Promise<void> {
    await this.call({ cmd: 'inputs', seq, batch, ids: Array.from(ids) });
  }

  async run(): Promise<number> {
    return (await this.call({ cmd: 'run' })).ms as number;
  }

  async output(): Promise<Float32Array> {
    return Float32Array.from((await this.call({ cmd: 'output' })).data as number[]);
  }

  async matmul(M: number, N: number, K: number, repeats: number): Promise<number[]> {
    return (await this.call({ cmd: 'matmul', M, N, K, repeats })).ms as number[];
  }

  stop(): void {
    if (this.exited) return;
    try {
      this.child.stdin!.write('{"cmd":"quit"}\n');
      this.child.stdin!.end();
    } catch {
      /* gone */
    }
    setTimeout(() => {
      if (!this.exited) this.child.kill('SIGKILL');
    }, 3000).unref();
  }
}
