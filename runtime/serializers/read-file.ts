// Whole-file reads for the loaders (npz, npy, IDX), with their size limit stated in the error.

import { readFile, stat } from 'node:fs/promises';

/** The largest file a loader reads: Node's readFile stops at 2 GiB - 1. */
export const MAX_FILE_BYTES = 2 ** 31 - 1;

/**
 * The bytes of `path`. Errors name the loader and the file: `loadNpz: /a/b.npz: cannot read
 * the file: ENOENT ...`, or, past 2 GiB - 1, the limit (the loaders read the whole file,
 * then check it; saveNpz writes any size, with zip64 fields past 4 GiB).
 */
export async function readWholeFile(path: string, op: string): Promise<Uint8Array> {
  try {
    const { size } = await stat(path);
    if (size > MAX_FILE_BYTES) {
      throw new RangeError(`${op}: ${path}: the file is ${size} bytes; ${op} reads whole files into memory, at most ${MAX_FILE_BYTES} bytes (2 GiB - 1, Node's readFile limit)`);
    }
    return await readFile(path);
  } catch (e) {
    if (e instanceof RangeError && e.message.startsWith(op)) throw e;
    throw new Error(`${op}: ${path}: cannot read the file: ${(e as Error).message}`);
  }
}
