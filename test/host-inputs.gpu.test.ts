// The skeleton's per-call extension point (PlanBuilder.hostInput / ForwardPlan.hostInputs): the
// runner calls each host input's fill with the batch layout (ranges, padded length, the request's
// per-sequence inputs for that forward) and writes what it returns before the forward; requests
// naming a per-sequence input the model does not read are refused. A model that reads
// 'adapter_mask' is made here by wrapping a real one, as an architecture file would declare it.
import { beforeAll, describe, expect, it } from 'vitest';
import path from 'node:path';
import { loadCheckpoint } from '../src/checkpoint';
import { createStorageBuffer } from '../src/gpu';
import { InputError } from '../src/errors';
import type { BatchLayout, EncoderModel, ForwardPlan, PlanOptions } from '../src/models/types';
import { folderSource } from '../src/sources/folder';
import { Runner } from '../src/runner';
import { ENCODER_FIXTURES_DIR } from './fixtures';
import { testGPU } from './gpu-context';

describe('host inputs filled from the batch layout', () => {
  let base: EncoderModel;
  const layouts: BatchLayout[] = [];
  /** The base model, reading 'adapter_mask' into a per-token table (the sequence's mask value + 1 on its tokens, 0 elsewhere). */
  const withAdapterTable = (): EncoderModel => {
    const model = Object.create(base) as EncoderModel & { sequenceInputs: readonly string[] };
    Object.defineProperty(model, 'sequenceInputs', { value: ['adapter_mask'] });
    model.planForward = (tokens: number, sequences: number, options: PlanOptions): ForwardPlan => {
      const plan = base.planForward(tokens, sequences, options);
      const tensor = { label: 'adapter_index', shape: [tokens], buffer: createStorageBuffer(base.device, 'adapter_index', tokens * 4) };
      plan.tensors.set(tensor.label, tensor); // freed with the plan
      const fill = (layout: BatchLayout) => {
        layouts.push(structuredClone({ ...layout, ranges: [...layout.ranges] }));
        const table = new Uint32Array(layout.capacity);
        const mask = layout.sequenceInputs.adapter_mask;
        layout.ranges.forEach((r, s) => table.fill(mask ? mask[s] + 1 : 0, r.start, r.start + r.length));
        return table;
      };
      plan.hostInputs = [...(plan.hostInputs ?? []), { tensor, fill }];
      return plan;
    };
    return model;
  };

  beforeAll(async () => {
    const { device } = await testGPU();
    const loaded = await loadCheckpoint(folderSource(path.join(ENCODER_FIXTURES_DIR, 'bert', 'bert-base-pooler-f32')));
    base = await loaded.architecture.createModel(device, loaded.config, loaded.weights);
    return () => base.destroy();
  });

  it('padded: fill sees each row as a sequence, seqLen as the padded length, the rows of sequenceInputs; the table is written', async () => {
    layouts.length = 0;
    const runner = new Runner(withAdapterTable());
    const ids = [101, 7, 8, 102, 0, 101, 9, 102, 0, 0];
    const mask = [1, 1, 1, 1, 0, 1, 1, 1, 0, 0];
    await runner.forward({ inputIds: ids, attentionMask: mask, batch: 2, seqLen: 5, outputs: ['pooledCls'], sequenceInputs: { adapter_mask: [3, 1] } });
    expect(layouts).toHaveLength(1);
    const [layout] = layouts;
    expect(layout.paddedLength).toBe(5);
    expect(layout.tokens).toBe(10);
    expect(layout.ranges).toEqual([{ start: 0, length: 5 }, { start: 5, length: 5 }]);
    expect(Array.from(layout.sequenceInputs.adapter_mask)).toEqual([3, 1]);
    const written = await runner.readIntermediate('adapter_index');
    expect(Array.from(written.subarray(0, 10), (x) => new Uint32Array(new Float32Array([x]).buffer)[0])).toEqual([4, 4, 4, 4, 4, 2, 2, 2, 2, 2]);
    runner.destroy();
  });

  it('packed: ranges of the packed sequences, the longest sequence as the padded length, absent inputs absent', async () => {
    layouts.length = 0;
    const runner = new Runner(withAdapterTable());
    await runner.forwardPacked({ sequences: [[101, 5, 102], [101, 6, 7, 8, 102]], outputs: ['pooledMean'], sequenceInputs: { adapter_mask: [0, 2] } });
    await runner.forwardPacked({ sequences: [[101, 102]], outputs: ['pooledMean'] });
    expect(layouts.map((l) => [l.paddedLength, l.tokens, l.ranges, Object.keys(l.sequenceInputs)])).toEqual([
      [5, 8, [{ start: 0, length: 3 }, { start: 3, length: 5 }], ['adapter_mask']],
      [2, 2, [{ start: 0, length: 2 }], []],
    ]);
    runner.destroy();
  });

  it('refuses per-sequence inputs the model does not read, or of the wrong length', async () => {
    const plain = new Runner(base);
    await expect(plain.forwardPacked({ sequences: [[101, 102]], outputs: ['pooledCls'], sequenceInputs: { adapter_mask: [0] } })).rejects.toThrow(InputError);
    await expect(plain.forwardPacked({ sequences: [[101, 102]], outputs: ['pooledCls'], sequenceInputs: { adapter_mask: [0] } })).rejects.toThrow(/reads no per-sequence input "adapter_mask" \(it reads none\)/);
    const reading = new Runner(withAdapterTable());
    await expect(reading.forwardPacked({ sequences: [[101, 102]], outputs: ['pooledCls'], sequenceInputs: { adapter_mask: [0, 1] } })).rejects.toThrow(/sequenceInputs\.adapter_mask: expected one value per sequence \(1\), got 2/);
    await expect(reading.forwardPacked({ sequences: [[101, 102]], outputs: ['pooledCls'], sequenceInputs: { adapter_mask: [0.5] } })).rejects.toThrow(/is not an integer/);
    plain.destroy();
    reading.destroy();
  });
});
