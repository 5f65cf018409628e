// Records what every fixture of the given families builds and computes, to prove a refactor
// changes nothing: per fixture, each plan's dispatch labels (and its tensors' labels and shapes),
// maxTokensPerForward, and a SHA-256 of every output of a padded and a packed forward.
//   node scripts/build.mjs --run scripts/dump-plans.ts OUT.json [family,family,...]
// Run it before and after a change and compare the two files (cmp / diff).
import { createHash } from 'node:crypto';
import { readdirSync, existsSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { loadCheckpoint } from '../src/checkpoint';
import { createGPU } from '../src/gpu';
import { folderSource } from '../src/sources/folder';
import { Runner, type OutputName } from '../src/runner';
import { parseSafetensors } from '../src/safetensors';
import { readFileSync } from 'node:fs';

const [out = '/tmp/plans.json', familyList = 'neobert,bert,roberta,xlm-roberta,modernbert,nomic-bert,gte,jina-xlm-roberta,distilbert,electra'] = process.argv.slice(2);
const fixtures = path.resolve(process.env.NEOBERT_SHARED_DIR ?? path.join(process.cwd(), '..', 'shared'), 'fixtures');
const gpu = await createGPU();
const hash = (a: Float32Array | undefined) => (a ? createHash('sha256').update(new Uint8Array(a.buffer, a.byteOffset, a.byteLength)).digest('hex').slice(0, 16) : null);
const record: Record<string, unknown> = {};
for (const family of familyList.split(',')) {
  for (const name of readdirSync(path.join(fixtures, family)).sort()) {
    const dir = path.join(fixtures, family, name);
    if (!existsSync(path.join(dir, 'expected.safetensors'))) continue;
    for (const options of [{}, { dtype: 'f16' as const, arithmetic: 'f16' as const }]) {
      const key = `${family}/${name}${options.dtype ? ' f16' : ''}`;
      if (options.dtype && !gpu.device.features.has('shader-f16')) continue;
      const loaded = await loadCheckpoint(folderSource(dir));
      const model = await loaded.architecture.createModel(gpu.device, loaded.config, loaded.weights, options);
      const expected = parseSafetensors(new Uint8Array(readFileSync(path.join(dir, 'expected.safetensors'))), dir);
      const [batch, seqLen] = expected.entry('input_ids').shape;
      const inputIds = expected.toInt32('input_ids');
      const attentionMask = expected.toInt32('attention_mask');
      const tokenTypeIds = expected.has('token_type_ids') ? expected.toInt32('token_type_ids') : undefined;
      const outputs: OutputName[] = ['lastHiddenState', 'pooledCls', 'pooledMean', 'pooledClsNormalized', 'pooledMeanNormalized'];
      if (model.hasPooler) outputs.push('poolerOutput');
      if (model.headKind !== 'none') outputs.push('logits');
      const plans: Record<string, unknown> = {};
      const planOptions = [{ logits: false }, { logits: true }, ...(model.headKind === 'mlm' ? [{ logits: true, logitRows: 8 }] : [])];
      for (const po of planOptions) {
        const plan = model.planForward(64, 8, po);
        plans[JSON.stringify(po)] = {
          dispatches: plan.dispatches.map((d) => d.label),
          tensors: [...plan.tensors.values()].map((t) => `${t.label}[${t.shape}]`),
          outputs: Object.fromEntries(Object.entries(plan.outputs).map(([k, t]) => [k, t ? `${t.label}[${t.shape}]` : null])),
          tokenTypeIds: plan.tokenTypeIds ? plan.tokenTypeIds.label : null,
          maxTokens: model.maxTokensPerForward(po),
        };
        plan.destroy();
      }
      const runner = new Runner(model);
      const padded = await runner.forward({ inputIds, attentionMask, tokenTypeIds, batch, seqLen, outputs });
      const sequences: number[][] = [];
      const typeIds: number[][] = [];
      for (let b = 0; b < batch; b++) {
        const row = Array.from(attentionMask.subarray(b * seqLen, (b + 1) * seqLen));
        const length = row.lastIndexOf(1) + 1;
        sequences.push(Array.from(inputIds.subarray(b * seqLen, b * seqLen + length)));
        typeIds.push(tokenTypeIds ? Array.from(tokenTypeIds.subarray(b * seqLen, b * seqLen + length)) : new Array(length).fill(0));
      }
      const packed = await runner.forwardPacked({ sequences, typeIds: tokenTypeIds ? typeIds : undefined, outputs });
      const rows = model.headKind === 'mlm' ? await runner.forward({ inputIds, attentionMask, tokenTypeIds, batch, seqLen, outputs: ['logits'], logitRows: [0, 1, seqLen] }) : null;
      record[key] = {
        headKind: model.headKind,
        numLabels: model.numLabels,
        hasPooler: model.hasPooler,
        positionOffset: model.positionOffset,
        plans,
        padded: Object.fromEntries(outputs.map((o) => [o, hash(padded[o])])),
        packed: Object.fromEntries(outputs.map((o) => [o, hash(packed[o])])),
        logitRows: rows ? hash(rows.logits) : null,
      };
      runner.destroy();
      model.destroy();
      console.log(key, 'done');
    }
  }
}
writeFileSync(out, JSON.stringify(record, null, 1));
console.log(`wrote ${Object.keys(record).length} cases to ${out}`);
gpu.device.destroy();
