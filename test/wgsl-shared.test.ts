// WGSL has no #include and the kernels take no string templating (GUIDE), so blocks that several
// kernels need (the matmul Params struct and bindings, the activation functions, the tiled
// attention kernels' softmax update, ...) are copies. Each copy sits between
//   // BEGIN shared: <name> ...
//   // END shared: <name>
// and every copy of a name must be identical, character for character: edit one, edit them all.
import { describe, expect, it } from 'vitest';
import { readdirSync, readFileSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

const KERNELS = fileURLToPath(new URL('../kernels/', import.meta.url));

interface SharedBlock {
  name: string;
  file: string;
  line: number;
  text: string;
}

/** The shared blocks of one source; throws on an unterminated, nested or mismatched marker. */
export function sharedBlocks(file: string, source: string): SharedBlock[] {
  const blocks: SharedBlock[] = [];
  let open: { name: string; line: number; lines: string[] } | null = null;
  source.split('\n').forEach((line, i) => {
    const begin = /^\s*\/\/ BEGIN shared: ([\w-]+)/.exec(line);
    const end = /^\s*\/\/ END shared: ([\w-]+)\s*$/.exec(line);
    if (begin) {
      if (open) throw new Error(`${file}:${i + 1}: BEGIN shared: ${begin[1]} inside ${open.name} (line ${open.line})`);
      open = { name: begin[1], line: i + 1, lines: [] };
    } else if (end) {
      if (!open) throw new Error(`${file}:${i + 1}: END shared: ${end[1]} without a BEGIN`);
      if (end[1] !== open.name) throw new Error(`${file}:${i + 1}: END shared: ${end[1]} closes ${open.name} (line ${open.line})`);
      blocks.push({ name: open.name, file, line: open.line, text: open.lines.join('\n') });
      open = null;
    } else if (/\/\/ (BEGIN|END) shared/.test(line)) {
      throw new Error(`${file}:${i + 1}: malformed marker "${line.trim()}"`);
    } else if (open) {
      open.lines.push(line);
    }
  });
  if (open) throw new Error(`${file}: BEGIN shared: ${(open as { name: string }).name} (line ${(open as { line: number }).line}) has no END`);
  return blocks;
}

/** Names whose copies differ (with the first differing line of each), or that have one copy only. */
export function sharedBlockProblems(blocks: SharedBlock[]): string[] {
  const byName = new Map<string, SharedBlock[]>();
  for (const b of blocks) byName.set(b.name, [...(byName.get(b.name) ?? []), b]);
  const problems: string[] = [];
  for (const [name, copies] of byName) {
    if (copies.length < 2) problems.push(`${name}: only one copy (${copies[0].file}:${copies[0].line}); a shared block has at least two`);
    const first = copies[0];
    for (const other of copies.slice(1)) {
      if (other.text === first.text) continue;
      const a = first.text.split('\n');
      const b = other.text.split('\n');
      const at = a.findIndex((l, i) => l !== b[i]);
      const i = at < 0 ? a.length : at;
      problems.push(
        `${name}: ${other.file}:${other.line + 1 + i} differs from ${first.file}:${first.line + 1 + i}\n` +
          `  ${first.file}: ${JSON.stringify(a[i] ?? '(end of block)')}\n  ${other.file}: ${JSON.stringify(b[i] ?? '(end of block)')}`,
      );
    }
  }
  return problems;
}

function kernelSources(): { file: string; source: string }[] {
  const files = [
    ...readdirSync(KERNELS).filter((f) => f.endsWith('.wgsl')),
    ...readdirSync(path.join(KERNELS, 'dev')).filter((f) => f.endsWith('.wgsl')).map((f) => `dev/${f}`),
  ];
  return files.map((file) => ({ file, source: readFileSync(path.join(KERNELS, file), 'utf8') }));
}

// Where each block must be (a marker removed by accident is a failure too).
const EXPECTED: Record<string, string[]> = {
  'matmul-params': ['matmul.wgsl', 'matmul_f16.wgsl', 'matmul_subgroup.wgsl'],
  'matmul-activation': ['lora.wgsl', 'matmul.wgsl', 'matmul_f16.wgsl', 'matmul_subgroup.wgsl'],
  'attention-params': ['attention.wgsl', 'attention_f16.wgsl', 'attention_subgroup.wgsl'],
  'attention-tables': ['attention.wgsl', 'attention_f16.wgsl', 'attention_subgroup.wgsl'],
  'attention-window-rule': ['attention.wgsl', 'attention_f16.wgsl'],
  'attention-tile': ['attention.wgsl', 'attention_f16.wgsl'],
  'attention-key-range': ['attention.wgsl', 'attention_f16.wgsl'],
  'attention-key-valid': ['attention.wgsl', 'attention_f16.wgsl'],
  'attention-softmax-update': ['attention.wgsl', 'attention_f16.wgsl'],
  'attention-output': ['attention.wgsl', 'attention_f16.wgsl'],
};

describe('shared WGSL blocks', () => {
  const blocks = kernelSources().flatMap(({ file, source }) => sharedBlocks(file, source));

  it('every copy of a shared block is identical', () => {
    expect(sharedBlockProblems(blocks).join('\n')).toBe('');
  });

  it('each block is marked in every kernel that carries it', () => {
    const found: Record<string, string[]> = {};
    for (const b of blocks) found[b.name] = [...(found[b.name] ?? []), b.file].sort();
    expect(found).toEqual(EXPECTED);
    for (const b of blocks) expect(b.text.trim().length, `${b.name} in ${b.file}`).toBeGreaterThan(0);
  });

  it('the check fails on a copy that differs, a lone copy and broken markers', () => {
    const a = '// BEGIN shared: x\nfn f() -> f32 { return 1.0; }\n// END shared: x\n';
    const b = '// BEGIN shared: x\nfn f() -> f32 { return 2.0; }\n// END shared: x\n';
    expect(sharedBlockProblems([...sharedBlocks('a.wgsl', a), ...sharedBlocks('b.wgsl', a)])).toEqual([]);
    const differ = sharedBlockProblems([...sharedBlocks('a.wgsl', a), ...sharedBlocks('b.wgsl', b)]);
    expect(differ).toHaveLength(1);
    expect(differ[0]).toMatch(/x: b\.wgsl:2 differs from a\.wgsl:2[\s\S]*return 2\.0/);
    expect(sharedBlockProblems(sharedBlocks('a.wgsl', a))[0]).toMatch(/only one copy/);
    expect(() => sharedBlocks('c.wgsl', '// BEGIN shared: x\nfn f() {}\n')).toThrow(/has no END/);
    expect(() => sharedBlocks('c.wgsl', '// BEGIN shared: x\n// BEGIN shared: y\n')).toThrow(/inside x/);
    expect(() => sharedBlocks('c.wgsl', '// BEGIN shared: x\n// END shared: y\n')).toThrow(/closes x/);
    expect(() => sharedBlocks('c.wgsl', '// END shared: x\n')).toThrow(/without a BEGIN/);
  });
});
