// A real .npz past 4 GiB, made cheaply: a 4.5 GiB member of zeros written as a sparse hole, then a model's members.

import { closeSync, openSync, writeSync } from 'node:fs';
import type { L } from '../../runtime/index.js';
import { bytesOf, npyHeader } from '../../runtime/serializers/npy.js';
import { ZipWriter } from '../../runtime/serializers/zip.js';

const ZEROS = new Uint8Array(64 << 20);
export const PAD_BYTES = 72 * ZEROS.length; // 4.5 GiB

/**
 * Write `link`'s parameters (Chainer's keys, float32) after a 4.5 GiB member 'pad.bin', so their
 * offsets need zip64 fields. The zeros are never written: the sink skips over them, leaving a hole.
 */
export async function writeBigArchive(path: string, link: L.Link): Promise<void> {
  const fd = openSync(path, 'w');
  let pos = 0;
  try {
    const zip = new ZipWriter(async (chunk) => {
      if (chunk !== ZEROS) writeSync(fd, chunk, 0, chunk.length, pos);
      pos += chunk.length;
    });
    await zip.add('pad.bin', new Array<Uint8Array>(PAD_BYTES / ZEROS.length).fill(ZEROS));
    for (const [k, p] of link.namedParams()) await zip.add(`${k.slice(1)}.npy`, [npyHeader(p.dtype, p.shape), bytesOf(p.data.toFlat())]);
    await zip.finish();
  } finally {
    closeSync(fd);
  }
}
