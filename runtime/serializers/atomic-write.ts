// Atomic file replacement: write a temporary file beside the target, fsync it, rename it over.

import { open, rename, rm, type FileHandle } from 'node:fs/promises';
import { basename, dirname, join } from 'node:path';
import { randomBytes } from 'node:crypto';

/** Largest slice handed to one write call (Node refuses single writes over 2 GiB). */
const SLICE = 1 << 26;

/**
 * Replace `path` with what `write` produces, all or nothing: the bytes go to a temporary file
 * in the same folder (so the rename never crosses file systems), which is fsynced, renamed
 * over `path`, and the folder is fsynced so the rename itself is durable. A process killed at
 * any moment leaves either the old file or the new one at `path`, never a mix (and at worst
 * a stray `.<name>.<pid>.<random>.tmp` beside it). If `write` throws, the temporary file is
 * removed and `path` is untouched.
 */
export async function writeFileAtomic(path: string, write: (put: (chunk: Uint8Array) => Promise<void>) => Promise<void>): Promise<void> {
  const dir = dirname(path);
  const tmp = join(dir, `.${basename(path)}.${process.pid}.${randomBytes(4).toString('hex')}.tmp`);
  const fh: FileHandle = await open(tmp, 'wx', 0o644);
  try {
    await write(async (chunk) => {
      for (let p = 0; p < chunk.length; p += SLICE) {
        const part = chunk.subarray(p, Math.min(chunk.length, p + SLICE));
        let done = 0;
        while (done < part.length) done += (await fh.write(part, done, part.length - done)).bytesWritten;
      }
    });
    await fh.sync();
  } catch (e) {
    await fh.close().catch(() => {});
    await rm(tmp, { force: true });
    throw e;
  }
  await fh.close();
  try {
    await rename(tmp, path);
  } catch (e) {
    await rm(tmp, { force: true });
    throw e;
  }
  await syncDir(dir);
}

async function syncDir(dir: string): Promise<void> {
  let d: FileHandle | undefined;
  try {
    d = await open(dir, 'r');
    await d.sync();
  } catch {
    // some platforms (Windows) and file systems cannot open or fsync a folder; the rename stands
  } finally {
    await d?.close();
  }
}
