// Host-side checks of what callers hand the engine, before any GPU work: token ids, masks, token
// types, lengths and option values. Every failure is an InputError naming the input and the value.
import { InputError } from './errors';
import type { EncoderConfig } from './models/types';

/** A right-padded [batch, seqLen] request (Runner.forward). */
export function validatePaddedBatch(
  config: EncoderConfig,
  inputIds: ArrayLike<number>,
  attentionMask: ArrayLike<number>,
  tokenTypeIds: ArrayLike<number> | undefined,
  batch: number,
  seqLen: number,
): void {
  const { vocabSize, maxLength } = config;
  if (!Number.isInteger(batch) || batch < 1) throw new InputError(`empty batch: expected at least one sequence, got batch size ${batch}`);
  if (!Number.isInteger(seqLen) || seqLen < 1) throw new InputError(`sequence length must be at least 1, got ${seqLen}`);
  if (seqLen > maxLength) throw new InputError(`sequence length ${seqLen} is over the model's limit of ${maxLength} tokens`);
  const n = batch * seqLen;
  if (inputIds.length !== n) throw new InputError(`input_ids has ${inputIds.length} values, expected ${batch} x ${seqLen} = ${n}`);
  if (attentionMask.length !== n) throw new InputError(`attention_mask has ${attentionMask.length} values, expected ${batch} x ${seqLen} = ${n}`);
  if (tokenTypeIds !== undefined && tokenTypeIds.length !== n) {
    throw new InputError(`token_type_ids has ${tokenTypeIds.length} values, expected ${batch} x ${seqLen} = ${n}`);
  }
  const at = (i: number) => `[${Math.floor(i / seqLen)}][${i % seqLen}]`;
  for (let i = 0; i < n; i++) {
    const id = inputIds[i];
    if (!Number.isInteger(id) || id < 0 || id >= vocabSize) throw new InputError(`input_ids${at(i)} = ${id} is out of the vocabulary range [0, ${vocabSize})`);
    const m = attentionMask[i];
    if (m !== 0 && m !== 1) throw new InputError(`attention_mask${at(i)} = ${m}, expected 0 or 1`);
  }
  if (tokenTypeIds !== undefined) checkTypeIds(config, tokenTypeIds, (i) => `token_type_ids${at(i)}`);
  for (let b = 0; b < batch; b++) {
    let any = false;
    for (let t = 0; t < seqLen && !any; t++) any = attentionMask[b * seqLen + t] === 1;
    if (!any) throw new InputError(`sequence ${b} has no tokens: its attention_mask is all zeros`);
  }
}

/** Packed sequences (Runner.forwardPacked): each non-empty, within the limit, ids in range. */
export function validatePackedSequences(config: EncoderConfig, sequences: ArrayLike<number>[], typeIds?: ArrayLike<number>[]): void {
  const { vocabSize, maxLength } = config;
  if (!Array.isArray(sequences) || sequences.length === 0) throw new InputError('empty batch: expected at least one sequence');
  if (typeIds !== undefined && typeIds.length !== sequences.length) {
    throw new InputError(`token type ids given for ${typeIds.length} sequences, expected one array per sequence (${sequences.length})`);
  }
  sequences.forEach((ids, s) => {
    if (ids.length < 1) throw new InputError(`sequence ${s} is empty`);
    if (ids.length > maxLength) throw new InputError(`sequence ${s} has ${ids.length} tokens, over the model's limit of ${maxLength}`);
    for (let i = 0; i < ids.length; i++) {
      if (!Number.isInteger(ids[i]) || ids[i] < 0 || ids[i] >= vocabSize) {
        throw new InputError(`sequence ${s}, token ${i}: id ${ids[i]} is out of the vocabulary range [0, ${vocabSize})`);
      }
    }
    if (typeIds !== undefined) {
      if (typeIds[s].length !== ids.length) throw new InputError(`sequence ${s} has ${ids.length} tokens but ${typeIds[s].length} token type ids`);
      checkTypeIds(config, typeIds[s], (i) => `sequence ${s}, token type id ${i}`);
    }
  });
}

/** Token type ids must be below the model's type_vocab_size (and only 0 for a model without types). */
export function checkTypeIds(config: EncoderConfig, typeIds: ArrayLike<number>, name: (i: number) => string): void {
  // GTE (type_vocab_size 1) zeroes any id; DeBERTa-v3 (type_vocab_size 0) accepts the pair tokenizer's 0 / 1 and ignores them, as transformers does.
  const limit = config.zeroesTokenTypes ? Number.MAX_SAFE_INTEGER : Math.max(1, config.typeVocabSize, config.ignoredTokenTypes ?? 0);
  for (let i = 0; i < typeIds.length; i++) {
    const t = typeIds[i];
    if (!Number.isInteger(t) || t < 0 || t >= limit) {
      const why = config.typeVocabSize > 0 ? `type_vocab_size is ${config.typeVocabSize}` : `${config.modelType} takes no token types`;
      throw new InputError(`${name(i)} = ${t} is out of range [0, ${limit}) (${why})`);
    }
  }
}

/** A positive integer option, else an InputError naming it and the value. */
export function positiveInt(value: unknown, what: string): number {
  if (typeof value !== 'number' || !Number.isInteger(value) || value < 1) {
    throw new InputError(`${what} must be a positive integer, got ${typeof value === 'string' ? JSON.stringify(value) : String(value)}`);
  }
  return value;
}
