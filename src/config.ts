// Architecture-neutral config.json reading: typed field access with errors that name the file and
// field, and the label fields every sequence classifier shares. Each src/models/<arch>.ts parses
// its own fields with these.
import { CheckpointError } from './errors';

/** Hugging Face's default label count when a classification config names none. */
const DEFAULT_NUM_LABELS = 2;

/** Field access on one parsed config.json; every failure is a CheckpointError naming the file. */
export class ConfigReader {
  readonly fields: Record<string, unknown>;

  constructor(
    json: unknown,
    readonly where: string,
  ) {
    if (typeof json !== 'object' || json === null || Array.isArray(json)) throw new CheckpointError(`${where}: expected a JSON object`);
    this.fields = json as Record<string, unknown>;
  }

  fail(message: string): never {
    throw new CheckpointError(`${this.where}: ${message}`);
  }

  has(field: string): boolean {
    return this.fields[field] !== undefined && this.fields[field] !== null;
  }

  /** An integer >= minimum; `fallback` when absent (required when no fallback is given). */
  integer(field: string, minimum: number, fallback?: number): number {
    const value = this.fields[field];
    if (value === undefined || value === null) {
      if (fallback === undefined) this.fail(`${field} is missing`);
      return fallback!;
    }
    if (typeof value !== 'number' || !Number.isSafeInteger(value) || value < minimum) {
      this.fail(`${field} must be an integer >= ${minimum}, got ${JSON.stringify(value)}`);
    }
    return value as number;
  }

  /** A finite number > 0; `fallback` when absent (required when no fallback is given). */
  positive(field: string, fallback?: number): number {
    const value = this.fields[field];
    if (value === undefined || value === null) {
      if (fallback === undefined) this.fail(`${field} is missing`);
      return fallback!;
    }
    if (typeof value !== 'number' || !Number.isFinite(value) || value <= 0) this.fail(`${field} must be a number > 0, got ${JSON.stringify(value)}`);
    return value as number;
  }

  boolean(field: string, fallback: boolean): boolean {
    const value = this.fields[field];
    if (value === undefined || value === null) return fallback;
    if (typeof value !== 'boolean') this.fail(`${field} must be true or false, got ${JSON.stringify(value)}`);
    return value as boolean;
  }

  /** One of `allowed`; `fallback` when absent. */
  choice<T extends string>(field: string, allowed: readonly T[], fallback: T): T {
    const value = this.fields[field];
    if (value === undefined || value === null) return fallback;
    if (typeof value !== 'string' || !allowed.includes(value as T)) {
      this.fail(`${field} is ${JSON.stringify(value)}; supported: ${allowed.map((a) => JSON.stringify(a)).join(', ')}`);
    }
    return value as T;
  }

  architectures(): string[] {
    const value = this.fields['architectures'] ?? [];
    if (!Array.isArray(value) || !value.every((name) => typeof name === 'string')) {
      this.fail(`architectures must be an array of strings, got ${JSON.stringify(value)}`);
    }
    return [...(value as string[])];
  }

  /** pad_token_id in [0, vocabSize), `fallback` when absent. */
  padTokenId(vocabSize: number, fallback: number): number {
    const value = this.fields['pad_token_id'] ?? fallback;
    if (typeof value !== 'number' || !Number.isSafeInteger(value) || value < 0 || value >= vocabSize) {
      this.fail(`pad_token_id must be an integer in [0, vocab_size=${vocabSize}), got ${JSON.stringify(value)}`);
    }
    return value as number;
  }

  /** Head dim from hidden_size / num_attention_heads, checked for what the kernels need. */
  headDim(hiddenSize: number, numHeads: number): number {
    if (hiddenSize % numHeads !== 0) this.fail(`hidden_size=${hiddenSize} is not divisible by num_attention_heads=${numHeads}`);
    const headDim = hiddenSize / numHeads;
    if (headDim % 4 !== 0) this.fail(`head dim ${headDim} (hidden_size/num_attention_heads) is not a multiple of 4; kernels read vec4`);
    return headDim;
  }

  /** num_labels and id2label of a sequence classifier (nulls when `isClassifier` is false). */
  labels(isClassifier: boolean): { numLabels: number | null; id2label: string[] | null } {
    if (!isClassifier) return { numLabels: null, id2label: null };
    const numLabels = this.numLabels();
    const id2label = this.fields['id2label'] as Record<string, unknown> | undefined;
    if (id2label === undefined) return { numLabels, id2label: null };
    // JSON object keys are strings: "0".."n-1", each naming one class.
    const names = new Array<string>(numLabels);
    for (const [key, name] of Object.entries(id2label)) {
      const index = Number(key);
      if (!/^\d+$/.test(key) || index >= numLabels) this.fail(`id2label key ${JSON.stringify(key)} is not a class index in [0, ${numLabels})`);
      if (typeof name !== 'string') this.fail(`id2label[${key}] must be a string, got ${JSON.stringify(name)}`);
      names[index] = name as string;
    }
    for (let i = 0; i < numLabels; i++) if (names[i] === undefined) this.fail(`id2label has no name for class ${i}`);
    return { numLabels, id2label: names };
  }

  private numLabels(): number {
    const numLabels = this.fields['num_labels'];
    if (numLabels !== undefined && (typeof numLabels !== 'number' || !Number.isSafeInteger(numLabels) || numLabels < 1)) {
      this.fail(`num_labels must be an integer >= 1, got ${JSON.stringify(numLabels)}`);
    }
    const id2label = this.fields['id2label'];
    if (id2label !== undefined && (typeof id2label !== 'object' || id2label === null || Array.isArray(id2label))) {
      this.fail(`id2label must be a JSON object, got ${JSON.stringify(id2label)}`);
    }
    const labelNames = id2label === undefined ? undefined : Object.keys(id2label as object).length;
    if (labelNames === 0) this.fail('id2label is empty');
    if (numLabels !== undefined && labelNames !== undefined && numLabels !== labelNames) {
      this.fail(`num_labels=${numLabels} disagrees with id2label, which has ${labelNames} entries`);
    }
    return (numLabels as number | undefined) ?? labelNames ?? DEFAULT_NUM_LABELS;
  }
}
