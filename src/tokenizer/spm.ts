/**
 * SentencePiece `spm.model` (DeBERTa-v3, mDeBERTa): the ModelProto read from its protobuf bytes and
 * the Unigram encoder as the sentencepiece library runs it (normalizer.cc, unigram_model.cc
 * EncodeOptimized), so a folder with spm.model and no tokenizer.json gives spm_encode's ids:
 * - normalization: the precompiled charsmap (a Darts-clone double-array trie over UTF-8 bytes,
 *   longest match, then the replacement string), user-defined pieces kept whole, leading /
 *   trailing / repeated spaces removed (remove_extra_whitespaces), a dummy "▁" prefix
 *   (add_dummy_prefix), spaces escaped to "▁";
 * - Viterbi over the UTF-8 bytes with float32 scores: normal and user-defined pieces (the latter
 *   scored length * max_score - 0.1 so they always win), unused pieces skipped, control / unknown /
 *   byte pieces never matched; a character no piece starts with becomes the unknown piece (score
 *   min_score - 10), or its UTF-8 bytes' <0xXX> pieces with byte_fallback.
 */
import { CheckpointError } from '../errors';

/** ModelProto.SentencePiece.Type */
export const SPM_PIECE_TYPE = { normal: 1, unknown: 2, control: 3, userDefined: 4, unused: 5, byte: 6 } as const;

export interface SpmPiece {
  piece: string;
  score: number;
  type: number;
}

export interface SpmModel {
  pieces: SpmPiece[];
  /** TrainerSpec.model_type: 1 unigram, 2 bpe, 3 word, 4 char. */
  modelType: number;
  unkId: number;
  bosId: number;
  eosId: number;
  padId: number;
  byteFallback: boolean;
  normalizer: { name: string; charsmap: Uint8Array | null; addDummyPrefix: boolean; removeExtraWhitespaces: boolean; escapeWhitespaces: boolean };
}

// ---------------------------------------------------------------------------------------------
// Protobuf (only the wire types ModelProto uses)

class ProtoReader {
  pos = 0;
  constructor(
    readonly bytes: Uint8Array,
    private readonly source: string,
  ) {}
  get done(): boolean {
    return this.pos >= this.bytes.length;
  }
  fail(what: string): never {
    throw new CheckpointError(`${this.source}: not a SentencePiece model (${what} at byte ${this.pos})`);
  }
  varint(): number {
    let result = 0;
    let scale = 1;
    for (let i = 0; i < 10; i++) {
      if (this.pos >= this.bytes.length) this.fail('truncated varint');
      const b = this.bytes[this.pos++];
      result += (b & 0x7f) * scale;
      if ((b & 0x80) === 0) return result;
      scale *= 128;
    }
    this.fail('varint too long');
  }
  /** Signed int32 fields (two's complement in a 10-byte varint when negative). */
  int32(): number {
    const v = this.varint();
    return v >= 2 ** 63 ? v - 2 ** 64 : v > 0x7fffffff ? v - 2 ** 32 : v;
  }
  bytesField(): Uint8Array {
    const n = this.varint();
    if (this.pos + n > this.bytes.length) this.fail('truncated field');
    const out = this.bytes.subarray(this.pos, this.pos + n);
    this.pos += n;
    return out;
  }
  float(): number {
    if (this.pos + 4 > this.bytes.length) this.fail('truncated float');
    const v = new DataView(this.bytes.buffer, this.bytes.byteOffset + this.pos, 4).getFloat32(0, true);
    this.pos += 4;
    return v;
  }
  skip(wire: number): void {
    if (wire === 0) this.varint();
    else if (wire === 1) this.pos += 8;
    else if (wire === 2) this.bytesField();
    else if (wire === 5) this.pos += 4;
    else this.fail(`wire type ${wire}`);
    if (this.pos > this.bytes.length) this.fail('truncated field');
  }
  /** Calls fn(field, wire) for each field until the end. */
  fields(fn: (field: number, wire: number) => boolean): void {
    while (!this.done) {
      const key = this.varint();
      const field = Math.floor(key / 8);
      const wire = key & 7;
      if (!fn(field, wire)) this.skip(wire);
    }
  }
}

const utf8 = new TextDecoder('utf-8', { fatal: false });

/** Parses the ModelProto of an spm.model file. */
export function parseSpmModel(bytes: Uint8Array, source = 'spm.model'): SpmModel {
  const model: SpmModel = {
    pieces: [],
    modelType: 1,
    unkId: 0,
    bosId: 1,
    eosId: 2,
    padId: -1,
    byteFallback: false,
    normalizer: { name: '', charsmap: null, addDummyPrefix: true, removeExtraWhitespaces: true, escapeWhitespaces: true },
  };
  const r = new ProtoReader(bytes, source);
  r.fields((field, wire) => {
    if (field === 1 && wire === 2) {
      const p = new ProtoReader(r.bytesField(), source);
      const piece: SpmPiece = { piece: '', score: 0, type: SPM_PIECE_TYPE.normal };
      p.fields((f, w) => {
        if (f === 1 && w === 2) piece.piece = utf8.decode(p.bytesField());
        else if (f === 2 && w === 5) piece.score = p.float();
        else if (f === 3 && w === 0) piece.type = p.varint();
        else return false;
        return true;
      });
      model.pieces.push(piece);
      return true;
    }
    if (field === 2 && wire === 2) {
      const t = new ProtoReader(r.bytesField(), source);
      t.fields((f, w) => {
        if (w !== 0) return false;
        if (f === 3) model.modelType = t.varint();
        else if (f === 40) model.unkId = t.int32();
        else if (f === 41) model.bosId = t.int32();
        else if (f === 42) model.eosId = t.int32();
        else if (f === 43) model.padId = t.int32();
        else if (f === 35) model.byteFallback = t.varint() !== 0;
        else return false;
        return true;
      });
      return true;
    }
    if (field === 3 && wire === 2) {
      const n = new ProtoReader(r.bytesField(), source);
      n.fields((f, w) => {
        if (f === 1 && w === 2) model.normalizer.name = utf8.decode(n.bytesField());
        else if (f === 2 && w === 2) model.normalizer.charsmap = n.bytesField().slice();
        else if (f === 3 && w === 0) model.normalizer.addDummyPrefix = n.varint() !== 0;
        else if (f === 4 && w === 0) model.normalizer.removeExtraWhitespaces = n.varint() !== 0;
        else if (f === 5 && w === 0) model.normalizer.escapeWhitespaces = n.varint() !== 0;
        else return false;
        return true;
      });
      return true;
    }
    return false;
  });
  if (model.pieces.length === 0) r.fail('no pieces');
  if (model.modelType !== 1) {
    throw new CheckpointError(`${source}: SentencePiece model_type ${model.modelType} (${['', 'unigram', 'bpe', 'word', 'char'][model.modelType] ?? '?'}); this engine reads Unigram models (DeBERTa-v3, mDeBERTa)`);
  }
  const unk = model.pieces[model.unkId];
  if (!unk || unk.type !== SPM_PIECE_TYPE.unknown) throw new CheckpointError(`${source}: unk_id ${model.unkId} is not the model's unknown piece`);
  return model;
}

// ---------------------------------------------------------------------------------------------
// Normalizer

const encoder = new TextEncoder();
const SPACE_SYMBOL = encoder.encode('\u2581');

/** Byte length of the UTF-8 character starting at bytes[i] (1 for a malformed lead byte). */
function utf8Length(bytes: Uint8Array, i: number): number {
  const b = bytes[i];
  const n = b < 0x80 ? 1 : b >> 5 === 6 ? 2 : b >> 4 === 14 ? 3 : b >> 3 === 30 ? 4 : 1;
  return Math.min(n, bytes.length - i);
}

class PrecompiledCharsmap {
  private readonly trie: Uint32Array;
  private readonly normalized: Uint8Array;

  constructor(blob: Uint8Array, source: string) {
    if (blob.length < 4) throw new CheckpointError(`${source}: precompiled_charsmap is truncated`);
    const view = new DataView(blob.buffer, blob.byteOffset, blob.byteLength);
    const trieBytes = view.getUint32(0, true);
    if (trieBytes % 4 !== 0 || 4 + trieBytes > blob.length) throw new CheckpointError(`${source}: precompiled_charsmap trie size ${trieBytes} does not fit`);
    this.trie = new Uint32Array(trieBytes / 4);
    for (let i = 0; i < this.trie.length; i++) this.trie[i] = view.getUint32(4 + 4 * i, true);
    this.normalized = blob.subarray(4 + trieBytes);
  }

  /** Darts-clone commonPrefixSearch: the longest key that prefixes bytes[at..], as (length, value). */
  longestPrefix(bytes: Uint8Array, at: number): { length: number; value: number } | null {
    const t = this.trie;
    if (t.length === 0) return null;
    const offset = (u: number) => (u >>> 10) << ((u & (1 << 9)) >>> 6);
    let node = offset(t[0]);
    let best: { length: number; value: number } | null = null;
    for (let i = at; i < bytes.length; i++) {
      node ^= bytes[i];
      if (node >= t.length) break;
      const unit = t[node];
      if ((unit & ((1 << 31) | 0xff)) >>> 0 !== bytes[i]) break;
      node ^= offset(unit);
      if ((unit >>> 8) & 1) {
        if (node >= t.length) break;
        best = { length: i - at + 1, value: t[node] & 0x7fffffff };
      }
    }
    return best;
  }

  /** The replacement string at `value` (null-terminated). */
  replacement(value: number): Uint8Array {
    let end = value;
    while (end < this.normalized.length && this.normalized[end] !== 0) end++;
    return this.normalized.subarray(value, end);
  }
}

/** A SentencePiece Unigram tokenizer: normalize, then Viterbi; ids exactly as spm_encode gives them. */
export class SpmUnigram {
  private readonly charsmap: PrecompiledCharsmap | null;
  /** Piece bytes (as a latin-1 key string) -> id, for pieces the Viterbi may use (normal, user-defined, unused). */
  private readonly pieceIds = new Map<string, number>();
  private readonly maxPieceBytes: number;
  private readonly minScore: number;
  private readonly maxScore: number;
  private readonly userDefined: Uint8Array[];
  private readonly byteIds: number[] | null;

  constructor(
    readonly model: SpmModel,
    source = 'spm.model',
  ) {
    this.charsmap = model.normalizer.charsmap && model.normalizer.charsmap.length > 0 ? new PrecompiledCharsmap(model.normalizer.charsmap, source) : null;
    let maxBytes = 1;
    let min = Infinity;
    let max = -Infinity;
    const user: Uint8Array[] = [];
    model.pieces.forEach((p, id) => {
      if (p.type === SPM_PIECE_TYPE.normal) {
        min = Math.min(min, p.score);
        max = Math.max(max, p.score);
      }
      if (p.type === SPM_PIECE_TYPE.normal || p.type === SPM_PIECE_TYPE.userDefined || p.type === SPM_PIECE_TYPE.unused) {
        const b = encoder.encode(p.piece);
        const key = latin1(b, 0, b.length);
        if (!this.pieceIds.has(key)) this.pieceIds.set(key, id);
        maxBytes = Math.max(maxBytes, b.length);
        if (p.type === SPM_PIECE_TYPE.userDefined) user.push(b);
      }
    });
    this.maxPieceBytes = maxBytes;
    this.minScore = Number.isFinite(min) ? min : 0;
    this.maxScore = Number.isFinite(max) ? max : 0;
    this.userDefined = user.sort((a, b) => b.length - a.length);
    if (model.byteFallback) {
      this.byteIds = Array.from({ length: 256 }, (_, b) => {
        const name = `<0x${b.toString(16).toUpperCase().padStart(2, '0')}>`;
        const id = model.pieces.findIndex((p) => p.type === SPM_PIECE_TYPE.byte && p.piece === name);
        if (id < 0) throw new CheckpointError(`${source}: byte_fallback is on but the byte piece ${name} is missing`);
        return id;
      });
    } else this.byteIds = null;
  }

  /** The longest user-defined piece at bytes[at..] (kept as is by the normalizer), or 0. */
  private userDefinedAt(bytes: Uint8Array, at: number): number {
    for (const u of this.userDefined) {
      if (u.length <= bytes.length - at && u.every((b, i) => bytes[at + i] === b)) return u.length;
    }
    return 0;
  }

  /** normalizer.cc Normalize: the normalized UTF-8 bytes. */
  normalize(text: string): Uint8Array {
    const input = encoder.encode(text);
    const n = this.model.normalizer;
    const out: number[] = [];
    const prefix = (at: number): { bytes: Uint8Array; consumed: number } => {
      const user = this.userDefinedAt(input, at);
      if (user > 0) return { bytes: input.subarray(at, at + user), consumed: user };
      const hit = this.charsmap?.longestPrefix(input, at) ?? null;
      if (hit) return { bytes: this.charsmap!.replacement(hit.value), consumed: hit.length };
      const len = utf8Length(input, at);
      return { bytes: input.subarray(at, at + len), consumed: len };
    };
    let at = 0;
    if (n.removeExtraWhitespaces) {
      while (at < input.length) {
        const p = prefix(at);
        if (!(p.bytes.length === 1 && p.bytes[0] === 0x20)) break;
        at += p.consumed;
      }
    }
    if (at >= input.length) return new Uint8Array(0);
    const space = n.escapeWhitespaces ? SPACE_SYMBOL : Uint8Array.of(0x20);
    if (n.addDummyPrefix) out.push(...space);
    let prevSpace = n.removeExtraWhitespaces;
    while (at < input.length) {
      const p = prefix(at);
      let sp = p.bytes;
      if (prevSpace) {
        let s = 0;
        while (s < sp.length && sp[s] === 0x20) s++;
        sp = sp.subarray(s);
      }
      if (sp.length > 0) {
        for (const b of sp) {
          if (n.escapeWhitespaces && b === 0x20) out.push(...SPACE_SYMBOL);
          else out.push(b);
        }
        prevSpace = sp[sp.length - 1] === 0x20;
      }
      at += p.consumed;
      if (!n.removeExtraWhitespaces) prevSpace = false;
    }
    if (n.removeExtraWhitespaces) {
      while (out.length >= space.length && space.every((b, i) => out[out.length - space.length + i] === b)) out.length -= space.length;
    }
    return Uint8Array.from(out);
  }

  /** Ids of one text (no specials), as spm_encode --output_format=id. */
  encode(text: string): number[] {
    const bytes = this.normalize(text);
    const size = bytes.length;
    const f = Math.fround;
    const unkScore = f(this.minScore - 10);
    const bestScore = new Float64Array(size + 1);
    const bestStart = new Int32Array(size + 1).fill(-1);
    const bestId = new Int32Array(size + 1).fill(-1);
    const pieces = this.model.pieces;
    for (let start = 0; start < size; ) {
      const till = bestScore[start];
      const mblen = utf8Length(bytes, start);
      let single = false;
      const limit = Math.min(size, start + this.maxPieceBytes);
      for (let end = start + 1; end <= limit; end++) {
        const id = this.pieceIds.get(latin1(bytes, start, end));
        if (id === undefined) continue;
        const piece = pieces[id];
        if (piece.type === SPM_PIECE_TYPE.unused) continue;
        const length = end - start;
        // As the C++ types it: a user-defined piece's bonus (float * float - 0.1) is a double, so its
        // candidate is compared in double; a normal piece's is a float sum.
        const candidate = piece.type === SPM_PIECE_TYPE.userDefined ? f(length * this.maxScore) - 0.1 + till : f(piece.score + till);
        if (bestStart[end] === -1 || candidate > bestScore[end]) {
          bestScore[end] = f(candidate);
          bestStart[end] = start;
          bestId[end] = id;
        }
        if (length === mblen) single = true;
      }
      if (!single) {
        const end = start + mblen;
        const candidate = f(unkScore + till);
        if (bestStart[end] === -1 || candidate > bestScore[end]) {
          bestScore[end] = candidate;
          bestStart[end] = start;
          bestId[end] = this.model.unkId;
        }
      }
      start += mblen;
    }
    const path: number[] = [];
    for (let end = size; end > 0; end = bestStart[end]) path.push(end);
    path.reverse();
    // SentencePieceProcessor::Encode: an unknown piece becomes its UTF-8 bytes' pieces with
    // byte_fallback; otherwise a run of unknown pieces is merged into one.
    const result: number[] = [];
    let prevUnk = false;
    for (const end of path) {
      const id = bestId[end];
      const unk = id === this.model.unkId;
      if (unk && this.byteIds) {
        for (let b = bestStart[end]; b < end; b++) result.push(this.byteIds[bytes[b]]);
      } else if (!(unk && prevUnk)) result.push(id);
      prevUnk = unk;
    }
    return result;
  }
}

/** bytes[from, to) as a string of char codes 0..255 (a Map key for a byte sequence). */
function latin1(bytes: Uint8Array, from: number, to: number): string {
  let s = '';
  for (let i = from; i < to; i++) s += String.fromCharCode(bytes[i]);
  return s;
}
