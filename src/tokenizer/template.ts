/**
 * The special-token template of a checkpoint (`post_processor` of tokenizer.json): where the
 * specials go around one text or a pair, and the token type id of each part. Applied here rather
 * than by `@huggingface/tokenizers`, whose RobertaProcessing gives the second text type id 1 (the
 * Rust crate, and RoBERTa's single type embedding, want 0 everywhere).
 */
import { CheckpointError } from '../errors';

export type TemplatePiece = { special: number[]; typeId: number } | { sequence: 'A' | 'B'; typeId: number };

export interface Template {
  single: TemplatePiece[];
  pair: TemplatePiece[];
  /** Which post-processor it came from (for messages). */
  kind: 'BertProcessing' | 'RobertaProcessing' | 'TemplateProcessing' | 'default';
}

function isRecord(x: unknown): x is Record<string, unknown> {
  return typeof x === 'object' && x !== null && !Array.isArray(x);
}

function isId(x: unknown): x is number {
  return typeof x === 'number' && Number.isInteger(x) && x >= 0;
}

/** `[CLS] A [SEP]` / `[CLS] A [SEP] B [SEP]`, type ids 0 then 1. */
export function bertTemplate(cls: number, sep: number): Template {
  return {
    kind: 'BertProcessing',
    single: [{ special: [cls], typeId: 0 }, { sequence: 'A', typeId: 0 }, { special: [sep], typeId: 0 }],
    pair: [
      { special: [cls], typeId: 0 },
      { sequence: 'A', typeId: 0 },
      { special: [sep], typeId: 0 },
      { sequence: 'B', typeId: 1 },
      { special: [sep], typeId: 1 },
    ],
  };
}

/** `<s> A </s>` / `<s> A </s></s> B </s>`, every type id 0. */
export function robertaTemplate(cls: number, sep: number): Template {
  return {
    kind: 'RobertaProcessing',
    single: [{ special: [cls], typeId: 0 }, { sequence: 'A', typeId: 0 }, { special: [sep], typeId: 0 }],
    pair: [
      { special: [cls], typeId: 0 },
      { sequence: 'A', typeId: 0 },
      { special: [sep, sep], typeId: 0 },
      { sequence: 'B', typeId: 0 },
      { special: [sep], typeId: 0 },
    ],
  };
}

/**
 * Reads a post_processor: BertProcessing, RobertaProcessing, TemplateProcessing, or a Sequence
 * holding one of them (ByteLevel, which only trims offsets, is skipped). Returns null when there is
 * none. `hasId` checks that the ids it names exist.
 */
export function parsePostProcessor(pp: unknown, source: string, hasId: (id: number) => boolean): Template | null {
  if (pp === null || pp === undefined) return null;
  const bad = (what: string) => new CheckpointError(`${source}: post_processor ${what}`);
  if (!isRecord(pp)) throw bad('is not an object');
  const checked = (id: number, name: string) => {
    if (!hasId(id)) throw bad(`names ${name} with id ${id}, which is not in the vocabulary`);
    return id;
  };
  const pairOf = (x: unknown, key: string): number => {
    if (!Array.isArray(x) || x.length !== 2 || typeof x[0] !== 'string' || !isId(x[1])) {
      throw bad(`${String(pp.type)}.${key} must be [token, id], got ${JSON.stringify(x)}`);
    }
    return checked(x[1], JSON.stringify(x[0]));
  };
  switch (pp.type) {
    case 'BertProcessing':
      return bertTemplate(pairOf(pp.cls, 'cls'), pairOf(pp.sep, 'sep'));
    case 'RobertaProcessing':
      return robertaTemplate(pairOf(pp.cls, 'cls'), pairOf(pp.sep, 'sep'));
    case 'TemplateProcessing': {
      const specials = pp.special_tokens ?? {};
      if (!isRecord(specials)) throw bad('TemplateProcessing.special_tokens must be an object');
      const pieces = (items: unknown, key: 'single' | 'pair'): TemplatePiece[] => {
        if (!Array.isArray(items)) throw bad(`TemplateProcessing.${key} must be an array`);
        return items.map((item, i) => {
          const where = `TemplateProcessing.${key}[${i}]`;
          if (isRecord(item) && isRecord(item.SpecialToken)) {
            const { id: name, type_id: typeId = 0 } = item.SpecialToken;
            if (!isId(typeId)) throw bad(`${where} has type_id ${JSON.stringify(typeId)}`);
            const entry = typeof name === 'string' ? specials[name] : undefined;
            if (!isRecord(entry) || !Array.isArray(entry.ids) || entry.ids.length === 0 || !entry.ids.every(isId)) {
              throw bad(`${where}: special token ${JSON.stringify(name)} has no ids in special_tokens`);
            }
            return { special: (entry.ids as number[]).map((id) => checked(id, JSON.stringify(name))), typeId };
          }
          if (isRecord(item) && isRecord(item.Sequence)) {
            const { id: seq, type_id: typeId = 0 } = item.Sequence;
            if (seq !== 'A' && seq !== 'B') throw bad(`${where}: sequence id must be "A" or "B", got ${JSON.stringify(seq)}`);
            if (!isId(typeId)) throw bad(`${where} has type_id ${JSON.stringify(typeId)}`);
            return { sequence: seq, typeId };
          }
          throw bad(`${where} is neither a SpecialToken nor a Sequence: ${JSON.stringify(item)}`);
        });
      };
      const single = pieces(pp.single, 'single');
      const pair = pieces(pp.pair, 'pair');
      const count = (ps: TemplatePiece[], s: 'A' | 'B') => ps.filter((p) => 'sequence' in p && p.sequence === s).length;
      if (count(single, 'A') !== 1 || count(single, 'B') !== 0) throw bad('TemplateProcessing.single must hold sequence A once');
      if (count(pair, 'A') !== 1 || count(pair, 'B') !== 1) throw bad('TemplateProcessing.pair must hold sequences A and B once each');
      return { kind: 'TemplateProcessing', single, pair };
    }
    case 'Sequence': {
      if (!Array.isArray(pp.processors)) throw bad('Sequence.processors must be an array');
      let found: Template | null = null;
      for (const p of pp.processors) {
        const t = parsePostProcessor(p, source, hasId);
        if (t) found = t;
      }
      return found;
    }
    case 'ByteLevel':
      return null;
    default:
      throw bad(`type ${JSON.stringify(pp.type)} is not supported (BertProcessing, RobertaProcessing, TemplateProcessing, Sequence)`);
  }
}

/** Number of special tokens the template adds. */
export function specialCount(pieces: TemplatePiece[]): number {
  let n = 0;
  for (const p of pieces) if ('special' in p) n += p.special.length;
  return n;
}

/** Lays out ids and type ids by the template. */
export function applyTemplate(pieces: TemplatePiece[], a: number[], b: number[] | null): { ids: number[]; typeIds: number[] } {
  const ids: number[] = [];
  const typeIds: number[] = [];
  for (const p of pieces) {
    const part = 'special' in p ? p.special : p.sequence === 'A' ? a : (b ?? []);
    for (const id of part) {
      ids.push(id);
      typeIds.push(p.typeId);
    }
  }
  return { ids, typeIds };
}

/**
 * Lengths the two bodies of a pair keep under `budget` tokens, as the Rust crate's `LongestFirst`
 * truncation (what transformers' fast tokenizers do): tokens come off the longer body until both
 * fit; when both must be cut they get half each, the longer one (the second on a tie) the odd token.
 */
export function longestFirst(n1: number, n2: number, budget: number): [number, number] {
  if (n1 + n2 <= budget) return [n1, n2];
  const swap = n1 > n2;
  let short = swap ? n2 : n1;
  let long: number;
  long = short > budget ? short : Math.max(short, budget - short);
  if (short + long > budget) {
    short = Math.floor(budget / 2);
    long = short + (budget % 2);
  }
  return swap ? [Math.min(n1, long), Math.min(n2, short)] : [Math.min(n1, short), Math.min(n2, long)];
}
