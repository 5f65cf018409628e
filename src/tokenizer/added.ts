/**
 * Added tokens (specials such as `[MASK]`, `<mask>`, and ModernBERT's runs of spaces) are cut out
 * of the text before the model sees it, the way the Rust `tokenizers` crate does: leftmost match,
 * longest at that position; `lstrip` / `rstrip` swallow the Unicode White_Space beside the match;
 * `single_word` only matches a whole word.
 *
 * Whitespace here is Unicode White_Space (U+0085 is whitespace, U+FEFF is not), as in the Rust
 * crate (`char::is_whitespace`) and Oniguruma; JavaScript's `\s` and `String.trim` differ on both.
 */

export interface AddedEntry {
  id: number;
  content: string;
  lstrip: boolean;
  rstrip: boolean;
  singleWord: boolean;
  special: boolean;
  /** Matched on the normalized text (true) or the raw text (false). */
  normalized: boolean;
}

/** Unicode White_Space (the property, not JavaScript's `\s`). */
export function isWhiteSpace(c: number): boolean {
  if (c <= 0x20) return c === 0x20 || (c >= 0x09 && c <= 0x0d);
  if (c < 0x85) return false;
  return (
    c === 0x85 ||
    c === 0xa0 ||
    c === 0x1680 ||
    (c >= 0x2000 && c <= 0x200a) ||
    c === 0x2028 ||
    c === 0x2029 ||
    c === 0x202f ||
    c === 0x205f ||
    c === 0x3000
  );
}

const WORD_CHAR = /[\p{L}\p{N}_]/u;

/** Whether the character just before (`before`) or at `index` is a word character. */
function isWordCharAt(text: string, index: number, before: boolean): boolean {
  let ch: string;
  if (before) {
    if (index <= 0) return false;
    const c = text.charCodeAt(index - 1);
    ch = c >= 0xdc00 && c <= 0xdfff && index >= 2 ? text.slice(index - 2, index) : text[index - 1];
  } else {
    if (index >= text.length) return false;
    ch = String.fromCodePoint(text.codePointAt(index)!);
  }
  return WORD_CHAR.test(ch);
}

interface TrieNode {
  next: Map<number, TrieNode>;
  entry: AddedEntry | null;
}

/** Splits a text into plain runs (strings) and matched added tokens. */
export class AddedTokenSplitter {
  private readonly root: TrieNode = { next: new Map(), entry: null };
  readonly size: number;

  /** `key` is what is matched in the text (the content, or its normalized form). */
  constructor(entries: { key: string; entry: AddedEntry }[]) {
    let size = 0;
    for (const { key, entry } of entries) {
      if (key.length === 0) continue;
      let node = this.root;
      for (let i = 0; i < key.length; i++) {
        const c = key.charCodeAt(i);
        let child = node.next.get(c);
        if (!child) {
          child = { next: new Map(), entry: null };
          node.next.set(c, child);
        }
        node = child;
      }
      if (!node.entry) size++;
      node.entry = entry;
    }
    this.size = size;
  }

  split(text: string): (string | AddedEntry)[] {
    if (this.size === 0) return text.length > 0 ? [text] : [];
    const out: (string | AddedEntry)[] = [];
    const n = text.length;
    let start = 0; // start of the pending plain run
    let i = 0;
    while (i < n) {
      let node: TrieNode | undefined = this.root;
      let best: AddedEntry | null = null;
      let bestEnd = -1;
      for (let j = i; j < n; j++) {
        node = node.next.get(text.charCodeAt(j));
        if (!node) break;
        if (node.entry) {
          best = node.entry;
          bestEnd = j + 1;
        }
      }
      if (best && (!best.singleWord || (!isWordCharAt(text, i, true) && !isWordCharAt(text, bestEnd, false)))) {
        let s = i;
        let e = bestEnd;
        if (best.lstrip) while (s > start && isWhiteSpace(text.charCodeAt(s - 1))) s--;
        if (best.rstrip) while (e < n && isWhiteSpace(text.charCodeAt(e))) e++;
        if (s > start) out.push(text.slice(start, s));
        out.push(best);
        i = e;
        start = e;
      } else {
        i++;
      }
    }
    if (start < n) out.push(text.slice(start));
    return out;
  }
}
