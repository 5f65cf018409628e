// Every error class the library throws, in one place, so each entry point (library, Node helpers,
// worker, CLI) throws the same classes and callers can catch them with instanceof.

/** Base class for every error this library throws, so callers can catch them as one family. */
export class EncoderError extends Error {
  constructor(message: string) {
    super(message);
    // Subclasses report their own name ("CheckpointError: ...") without repeating this line.
    this.name = new.target.name;
  }
}

/** The base class's first name, kept as an alias (the same class: instanceof either holds). */
export { EncoderError as NeoBERTError };

/** A checkpoint (config.json, safetensors, index, tokenizer file, folder, download) is missing, malformed or inconsistent. */
export class CheckpointError extends EncoderError {}

/** A call's inputs or options are invalid (names the input or option, and expected vs actual). */
export class InputError extends EncoderError {}

/** The model was disposed; load it again. */
export class ModelDisposedError extends EncoderError {}

/** The GPU device was lost (driver reset, GPU removed, destroyed); load the model again. */
export class DeviceLostError extends EncoderError {
  constructor(
    message: string,
    readonly reason: string,
  ) {
    super(message);
  }
}

/** No WebGPU adapter or device could be had. */
export class GPUUnavailableError extends EncoderError {}

/**
 * The GPU ran out of memory uploading the weights or building a forward plan. `what` says what
 * did not fit; the message says what to try (dtype 'f16', a smaller batch or maxLength).
 */
export class GPUOutOfMemoryError extends EncoderError {
  constructor(
    message: string,
    readonly what: string,
  ) {
    super(message);
  }
}

/** WebGPU rejected a buffer, pipeline or dispatch (a device limit, usually) while uploading or planning. */
export class GPUValidationError extends EncoderError {
  constructor(
    message: string,
    readonly what: string,
  ) {
    super(message);
  }
}

/** A kernel was bound to tensors of the wrong shape, size or aliasing (checked on the host). */
export class KernelShapeError extends EncoderError {}

/** A text has more tokens than the limit and truncation was turned off. */
export class TokenLimitError extends EncoderError {
  readonly index: number;
  readonly tokens: number;
  readonly limit: number;
  constructor(index: number, tokens: number, limit: number) {
    super(`text ${index} has ${tokens} tokens, over the limit of ${limit} (pass truncation to cut it)`);
    this.name = 'TokenLimitError';
    this.index = index;
    this.tokens = tokens;
    this.limit = limit;
  }
}

/** A tensor does not fit this device's limits (storage-binding or buffer size); says what to try. */
export class DeviceLimitError extends EncoderError {}
