// The CPU reference (the oracle for every kernel test) against the PyTorch fixtures: if this
// fails, kernel tests that agree with the reference prove nothing.
import { describe, expect, it } from 'vitest';
import path from 'node:path';
import { loadCheckpoint } from '../src/checkpoint';
import type { NeoBERTConfig, NeoBERTWeights } from '../src/models/neobert';
import { folderSource } from '../src/node/folder-source';
import { referenceForward } from '../src/reference';
import { compareArrays } from './compare';
import { FIXTURES_DIR, fixtureCases, readExpected } from './fixtures';

describe.each(fixtureCases())('CPU reference on fixture %s', (caseName) => {
  it('matches last_hidden_state, pooling and logits to rel L2 < 1e-5', async () => {
    const { config, weights } = await loadCheckpoint<NeoBERTConfig, NeoBERTWeights>(folderSource(path.join(FIXTURES_DIR, caseName)));
    const expected = await readExpected(caseName);
    const [batch, seqLen] = expected.entry('input_ids').shape;
    const out = referenceForward(config, weights, expected.toInt32('input_ids'), expected.toInt32('attention_mask'), batch, seqLen);
    const pairs: [string, Float32Array | null][] = [
      ['last_hidden_state', out.lastHiddenState],
      ['pooled_cls', out.pooledCls],
      ['pooled_mean', out.pooledMean],
      ['logits', out.logits],
    ];
    for (const [name, got] of pairs) {
      if (!expected.has(name)) continue;
      const stats = compareArrays(got!, expected.toFloat32(name), { atol: 0, rtol: 0, label: name });
      expect(got!.every(Number.isFinite), `${name} has NaN/Inf`).toBe(true);
      expect(stats.relL2, `${caseName} ${name}\n${stats.lines.join('\n')}`).toBeLessThan(1e-5);
    }
  });
});
