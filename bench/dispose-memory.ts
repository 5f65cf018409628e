// RSS before loading, after loading + one embed, and after dispose() of a model on a device the
// caller shares (GPUContext from createGPU, which dispose leaves alive), for the full-size NeoBERT
// checkpoint that bench/load-memory.ts writes. Run with --expose-gc so garbage is collected before
// each reading (enabled here through v8.setFlagsFromString). On lavapipe GPU buffers live in host
// memory, so freed weights show in RSS.
//   node scripts/build.mjs --run bench/dispose-memory.ts [--dtype f16]
import path from 'node:path';
import { setFlagsFromString } from 'node:v8';
import { runInNewContext } from 'node:vm';
import { Encoder } from '../src/encoder';
import { createGPU } from '../src/gpu';
import { folderSource } from '../src/sources/folder';

const dtype = process.argv.includes('--dtype') ? (process.argv[process.argv.indexOf('--dtype') + 1] as 'f16' | 'f32') : 'f16';
const dir = path.resolve('bench/peers/.cache/neobert-base-f32');
setFlagsFromString('--expose-gc');
const gc = runInNewContext('gc') as (() => void) | undefined;
const rssMB = async () => {
  for (let i = 0; i < 3; i++) {
    gc?.();
    await new Promise((resolve) => setTimeout(resolve, 50));
  }
  return Math.round(process.memoryUsage().rss / 2 ** 20);
};
const gpu = await createGPU();
const before = await rssMB();
let model: Encoder | null = await Encoder.load(folderSource(dir), { gpu, dtype });
await model.embed(['the cat sat on the mat']);
const loaded = await rssMB();
await model.dispose();
model = null;
const after = await rssMB();
gpu.destroy();
const afterDevice = await rssMB();
console.log(JSON.stringify({ dtype, gcExposed: !!gc, rssMB: { beforeLoad: before, loadedAndEmbedded: loaded, afterDispose: after, afterDeviceDestroyed: afterDevice } }));
process.exit(0);
