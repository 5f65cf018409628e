// Node-only: a checkpoint folder on disk, and crash-safe file writes.

import { closeSync, fstatSync, openSync, readSync } from 'node:fs';
import { open, rename, stat, unlink } from 'node:fs/promises';
import { basename, dirname, join } from 'node:path';
import type { CheckpointSource } from './types';
import type { RangeReader } from '../safetensors';
import { CheckpointError } from '../errors';

/** Reads in slices so progress can be reported for files of a gigabyte. */
const READ_SLICE_BYTES = 16 * 1024 * 1024;

function isMissingFile(error: unknown): boolean {
  return (error as NodeJS.ErrnoException).code === 'ENOENT';
}

export function folderSource(dir: string): CheckpointSource {
  /** A missing file yields null, but a missing folder is an error: nothing could be loaded. */
  const missingFileOrThrow = async (name: string, error: unknown): Promise<null> => {
    if (!isMissingFile(error)) throw new CheckpointError(`${join(dir, name)}: ${(error as Error).message}`);
    const folder = await stat(dir).catch(() => null);
    if (!folder) throw new CheckpointError(`${dir}: checkpoint folder does not exist`);
    if (!folder.isDirectory()) throw new CheckpointError(`${dir}: is not a folder`);
    return null;
  };

  const readBytes: CheckpointSource['readBytes'] = async (name, onProgress) => {
    const path = join(dir, name);
    let handle;
    try {
      handle = await open(path, 'r');
    } catch (error) {
      return missingFileOrThrow(name, error);
    }
    try {
      const info = await handle.stat();
      if (info.isDirectory()) throw new CheckpointError(`${path}: is a folder, expected a file`);
      const { size } = info;
      const bytes = new Uint8Array(size);
      onProgress?.({ file: name, loaded: 0, total: size });
      let loaded = 0;
      while (loaded < size) {
        const { bytesRead } = await handle.read(bytes, loaded, Math.min(READ_SLICE_BYTES, size - loaded), loaded);
        if (bytesRead === 0) throw new CheckpointError(`${path}: file shrank while reading (${loaded} of ${size} bytes)`);
        loaded += bytesRead;
        onProgress?.({ file: name, loaded, total: size });
      }
      return bytes;
    } catch (error) {
      // Every failure names the file (a bare "EISDIR" or "EIO" says nothing about which).
      if (error instanceof CheckpointError) throw error;
      throw new CheckpointError(`${path}: ${(error as Error).message}`);
    } finally {
      await handle.close();
    }
  };

  /** Synchronous range reads on a file descriptor, so weights stream from disk tensor by tensor. */
  const openFile = async (name: string): Promise<RangeReader | null> => {
    const path = join(dir, name);
    let fd: number;
    try {
      fd = openSync(path, 'r');
    } catch (error) {
      return missingFileOrThrow(name, error);
    }
    let open = true;
    const size = fstatSync(fd).size;
    return {
      size,
      readSync(offset, length) {
        if (!open) throw new CheckpointError(`${path}: read after the checkpoint was closed`);
        const bytes = new Uint8Array(length);
        let done = 0;
        while (done < length) {
          const n = readSync(fd, bytes, done, length - done, offset + done);
          if (n === 0) throw new CheckpointError(`${path}: file shrank while reading (wanted bytes ${offset}..${offset + length} of ${size})`);
          done += n;
        }
        return bytes;
      },
      close() {
        if (open) closeSync(fd);
        open = false;
      },
    };
  };

  return {
    label: dir,
    readBytes,
    openFile,
    async readText(name) {
      const bytes = await readBytes(name);
      return bytes && new TextDecoder().decode(bytes);
    },
  };
}

/** Writes to a temporary file beside `path`, then renames it over `path`: readers see the old or the new file, never half of one. */
export async function writeFileAtomic(path: string, bytes: Uint8Array | string): Promise<void> {
  const unique = `${process.pid}.${Date.now()}.${Math.random().toString(36).slice(2)}`;
  const temporary = join(dirname(path), `.${basename(path)}.${unique}.tmp`);
  try {
    const handle = await open(temporary, 'w');
    try {
      await handle.writeFile(bytes);
      await handle.sync();
    } finally {
      await handle.close();
    }
    await rename(temporary, path);
  } catch (error) {
    await unlink(temporary).catch(() => undefined);
    throw new CheckpointError(`${path}: could not write the file (${(error as Error).message})`);
  }
}
