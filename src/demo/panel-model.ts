// One model in its own EncoderWorker, as each panel of the demo holds one (the embedder, the
// cross-encoder, the guardrail classifier): loading from the Hub (suggested ids with their
// download size, or a typed id and revision) or from picked files, with progress, status, errors
// and a busy lock that disables the panel's controls while it works.
//
// Element ids are `${prefix}<name>`: status, error, progress, facts, load-files, files-label,
// hub-models, hub-form, hub-id, hub-revision. The embedder's prefix is '' (its ids predate the
// other panels); the others use 'rerank-' and 'guard-'.
import { EncoderWorker, type ModelInfo } from '../index';
import type { HubModel } from './catalog';
import { $, describeProgress, el, ms, timingLine, type Timed } from './ui';

export type PanelState = 'empty' | 'loading' | 'ready' | 'error' | 'no-webgpu';

export interface PanelHooks {
  /** Where data-state goes (the embedder: <body>, the others: their section). */
  stateTarget: HTMLElement;
  /** Task buttons, enabled only while a model is loaded and idle. */
  taskButtons: () => HTMLButtonElement[];
  /** Other load buttons of the panel (the bundled checkpoint). */
  extraLoadButtons?: () => HTMLButtonElement[];
  /** After a model loaded (show what it can do). */
  onLoaded(model: EncoderWorker, info: ModelInfo, name: string): void;
  /** Before a model is disposed (drop anything cached for it). */
  onUnload?(): void;
  /** After a load failed (its message is already shown). */
  onError?(error: Error): void;
}

export class PanelModel {
  model: EncoderWorker | null = null;
  /** What the loaded model was loaded from: a Hub id, 'bundled', or a description of the files. */
  loadedFrom: string | null = null;
  busy = false;

  constructor(
    private readonly prefix: string,
    readonly hooks: PanelHooks,
  ) {}

  private id(name: string): string {
    return `${this.prefix}${name}`;
  }

  /** Wires the suggestion buttons, the Hub id form and the file picker. */
  init(suggestions: HubModel[]): void {
    const list = document.getElementById(this.id('hub-models'));
    if (list) {
      list.replaceChildren(
        ...suggestions.map((m) => {
          const button = el('button', { type: 'button', className: 'secondary model-button' }, el('strong', { textContent: m.id.split('/')[1] }), ` · ${m.size}`);
          button.dataset.hubId = m.id;
          button.title = `${m.id}: ${m.note}`;
          button.addEventListener('click', () => this.load(m.id, m.id));
          return el('li', {}, button, el('span', { className: 'muted', textContent: ` ${m.note}` }));
        }),
      );
    }
    $(this.id('hub-form')).addEventListener('submit', (event) => {
      event.preventDefault();
      const id = $<HTMLInputElement>(this.id('hub-id')).value.trim();
      const revision = $<HTMLInputElement>(this.id('hub-revision')).value.trim() || undefined;
      if (!id) return this.showError('Type a Hub model id: owner/name.');
      void this.load(id, revision ? `${id}@${revision}` : id, revision);
    });
    const files = $<HTMLInputElement>(this.id('load-files'));
    files.addEventListener('change', () => {
      const picked = [...(files.files ?? [])];
      files.value = '';
      if (picked.length) void this.load(picked, picked.length === 1 ? picked[0].name : `${picked.length} files (${picked.map((f) => f.name).join(', ')})`);
    });
    this.setControls();
  }

  setState(state: PanelState): void {
    this.hooks.stateTarget.dataset.state = state;
  }

  showError(error: unknown): void {
    $(this.id('error')).textContent = error instanceof Error ? error.message : String(error);
  }

  setStatus(text: string): void {
    $(this.id('status')).textContent = text;
  }

  private loadControls(): (HTMLButtonElement | HTMLInputElement)[] {
    const form = $<HTMLFormElement>(this.id('hub-form'));
    return [
      ...(this.hooks.extraLoadButtons?.() ?? []),
      ...document.querySelectorAll<HTMLButtonElement>(`#${this.id('hub-models')} button`),
      ...form.querySelectorAll<HTMLButtonElement | HTMLInputElement>('button, input'),
      $<HTMLInputElement>(this.id('load-files')),
    ];
  }

  setControls(): void {
    const ready = this.model !== null && !this.busy;
    for (const b of this.hooks.taskButtons()) b.disabled = !ready;
    for (const c of this.loadControls()) c.disabled = this.busy;
    $(this.id('files-label')).setAttribute('aria-disabled', String(this.busy));
  }

  /** Disables everything: no WebGPU. */
  disableAll(): void {
    this.busy = true;
    this.setControls();
  }

  async load(source: string | File[], name: string, revision?: string): Promise<boolean> {
    if (this.busy) return false;
    this.busy = true;
    this.setControls();
    this.setState('loading');
    this.showError('');
    const progress = $<HTMLProgressElement>(this.id('progress'));
    progress.hidden = false;
    progress.removeAttribute('value');
    this.setStatus(`Loading ${name}…`);
    const previous = this.model;
    this.model = null;
    this.loadedFrom = null;
    this.hooks.onUnload?.();
    await previous?.dispose().catch(() => undefined);
    const started = performance.now();
    try {
      const loaded = await EncoderWorker.load(source, {
        revision,
        onProgress: (p) => {
          this.setStatus(describeProgress(p));
          if (p.total) {
            progress.max = p.total;
            progress.value = p.loaded;
          }
          if (p.file === 'model.safetensors' && p.total !== null && p.loaded === p.total) {
            this.setStatus(`${describeProgress(p)}. Uploading weights and compiling GPU kernels…`);
          }
        },
      });
      this.model = loaded;
      this.loadedFrom = typeof source === 'string' ? source : name;
      this.hooks.onLoaded(loaded, loaded.info(), name);
      this.setStatus(`Loaded ${name} in ${((performance.now() - started) / 1000).toFixed(1)} s.`);
      this.setState('ready');
      return true;
    } catch (e) {
      this.showError(e);
      this.setStatus(`Could not load ${name}.`);
      this.setState('error');
      this.hooks.onError?.(e as Error);
      return false;
    } finally {
      progress.hidden = true;
      this.busy = false;
      this.setControls();
    }
  }

  /**
   * Runs a task of this panel with its controls disabled, timing it from the page; writes the
   * timing lines to #<section>-timings and counts finished runs in data-done of `done`. Returns
   * false when the task could not start or failed (its error is shown).
   */
  async run(timingsId: string, done: HTMLElement, body: (model: EncoderWorker, timed: Timed) => Promise<void>): Promise<boolean> {
    if (!this.model || this.busy) return false;
    this.busy = true;
    this.setControls();
    this.showError('');
    const lines: string[] = [];
    const started = performance.now();
    try {
      await body(this.model, (label) => (t) => lines.push(timingLine(label, t)));
      lines.push(`page round trip ${ms(performance.now() - started)} ms (worker messages and page work included)`);
      $(timingsId).textContent = lines.join('\n');
      done.dataset.done = String(Number(done.dataset.done ?? 0) + 1);
      return true;
    } catch (e) {
      this.showError(e);
      return false;
    } finally {
      this.busy = false;
      this.setControls();
    }
  }
}
