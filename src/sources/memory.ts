// In-memory files (tests, generated checkpoints) as a CheckpointSource.
import type { CheckpointSource } from './types';

/** Files by name (bytes or text), e.g. memorySource({ 'config.json': '{...}', 'model.safetensors': bytes }, 'mem'). */
export function memorySource(files: Record<string, Uint8Array | string>, label: string): CheckpointSource {
  const contents = new Map(Object.entries(files));
  return {
    label,
    async readText(name) {
      const content = contents.get(name);
      if (content === undefined) return null;
      return typeof content === 'string' ? content : new TextDecoder().decode(content);
    },
    async readBytes(name, onProgress) {
      const content = contents.get(name);
      if (content === undefined) return null;
      const bytes = typeof content === 'string' ? new TextEncoder().encode(content) : content;
      onProgress?.({ file: name, loaded: bytes.byteLength, total: bytes.byteLength });
      return bytes;
    },
  };
}
