/** Base class for every error this library throws, so callers can catch them as one family. */
export class NeoBERTError extends Error {
  constructor(message: string) {
    super(message);
    // Subclasses report their own name ("CheckpointError: ...") without repeating this line.
    this.name = new.target.name;
  }
}

/** A checkpoint (config.json, safetensors, index, folder, download) is missing, malformed or inconsistent. */
export class CheckpointError extends NeoBERTError {}

/** A call's inputs or options are invalid (names the input or option, and expected vs actual). */
export class InputError extends NeoBERTError {}
