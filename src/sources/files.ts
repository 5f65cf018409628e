// Files picked in the browser (an <input type=file multiple> or a folder picker) as a CheckpointSource.
import { CheckpointError } from '../errors';
import type { CheckpointSource, NamedBlob } from './types';

/** Files picked in the browser (a folder picker gives every file; they are matched by base name). */
export function filesSource(files: Iterable<NamedBlob>): CheckpointSource {
  const byName = new Map<string, NamedBlob>();
  for (const file of files) {
    if (byName.has(file.name)) throw new CheckpointError(`selected files: two files are named ${file.name}`);
    byName.set(file.name, file);
  }
  const readFile = async (name: string): Promise<Uint8Array | null> => {
    const file = byName.get(name);
    if (!file) return null;
    try {
      return new Uint8Array(await file.arrayBuffer());
    } catch (error) {
      throw new CheckpointError(`selected files/${name}: could not be read (${(error as Error).message})`);
    }
  };
  return {
    label: 'selected files',
    async readText(name) {
      const bytes = await readFile(name);
      return bytes && new TextDecoder().decode(bytes);
    },
    async readBytes(name, onProgress) {
      const bytes = await readFile(name);
      if (bytes) onProgress?.({ file: name, loaded: bytes.byteLength, total: bytes.byteLength });
      return bytes;
    },
  };
}
