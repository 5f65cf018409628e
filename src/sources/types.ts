// What every checkpoint source (src/sources/: url, files, memory, folder) is and shares: the
// CheckpointSource interface the loader reads through, download progress, and file naming.
import type { RangeReader } from '../safetensors';

export interface Progress {
  /** File name inside the checkpoint folder, e.g. "model.safetensors". */
  file: string;
  loaded: number;
  /** Bytes expected, when known. */
  total: number | null;
  /** True when the bytes come from the browser's Cache Storage, not the network. */
  cached?: boolean;
  /** Set when an interrupted download resumed: the byte it resumed from (the rest came from Cache Storage). */
  resumedFrom?: number;
}

export type ProgressFn = (progress: Progress) => void;

export interface CheckpointSource {
  /** Where the files come from (URL, folder, ...), used in messages. */
  label: string;
  /** null when the file does not exist. */
  readText(name: string): Promise<string | null>;
  /** null when the file does not exist. */
  readBytes(name: string, onProgress?: ProgressFn): Promise<Uint8Array | null>;
  /**
   * Optional: the file as a synchronous byte-range reader (a Node file descriptor, a Blob in a
   * worker), so weights are read, converted and uploaded tensor by tensor instead of the whole file
   * being held in memory. null when the file does not exist.
   */
  openFile?(name: string, onProgress?: ProgressFn): Promise<RangeReader | null>;
}

/** Anything with a name and arrayBuffer(), e.g. the File objects of an <input type=file>. */
export interface NamedBlob {
  name: string;
  arrayBuffer(): Promise<ArrayBuffer>;
}

/** "<label>/<file>", the way messages name a file of a source. */
export function pathIn(source: CheckpointSource, file: string): string {
  return source.label.endsWith('/') ? source.label + file : `${source.label}/${file}`;
}
