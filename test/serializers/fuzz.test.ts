// Fuzzing the file readers: mutated and truncated .npz, .npy and IDX files give errors naming the file, never crashes, hangs or big allocations.

import test, { type ExecutionContext } from 'ava';
import fc from 'fast-check';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { gzipSync } from 'node:zlib';
import { array, L, NDArray, optimizers, training } from '../../runtime/index.js';
import { loadNpz, loadNpzBytes, saveNpzBytes } from '../../runtime/serializers/index.js';
import { bytesOf, npyHeader, npyToNDArray, parseNpy } from '../../runtime/serializers/npy.js';

const RUNS = { npz: 6000, npy: 3000, idx: 4000 };
const NAME = '/data/fuzzed-file';

// ---- seeds ----------------------------------------------------------------------------------

class Model extends L.Chain {
  l1 = new L.Linear(4, 3);
  l2 = new L.Linear(3, 2);
  constructor() {
    super();
    this.addPersistent('steps', 5);
    this.addPersistent('mean', array([0.5, -1], [2]));
  }
}

const npy = (x: NDArray) => concat([npyHeader(x.dtype, x.shape), bytesOf(x.toFlat())]);

function idxFile(code: number, shape: number[], itemSize: number, fill: (i: number) => number): Uint8Array {
  const n = shape.reduce((a, b) => a * b, 1);
  const b = Buffer.alloc(4 + 4 * shape.length + itemSize * n);
  b[2] = code;
  b[3] = shape.length;
  shape.forEach((d, i) => b.writeUInt32BE(d, 4 + 4 * i));
  for (let i = 0; i < n; i++) {
    const at = 4 + 4 * shape.length + itemSize * i;
    if (itemSize === 1) b.writeUInt8(fill(i) & 255, at);
    else if (code === 0x0c) b.writeInt32BE(fill(i), at);
    else b.writeDoubleBE(fill(i), at);
  }
  return new Uint8Array(b);
}

function concat(parts: Uint8Array[]): Uint8Array {
  const out = new Uint8Array(parts.reduce((a, p) => a + p.length, 0));
  let p = 0;
  for (const x of parts) { out.set(x, p); p += x.length; }
  return out;
}

// ---- mutations --------------------------------------------------------------------------------

/** Offsets of the length and offset fields of a seed, found by their signatures, with their widths. */
function lengthFields(b: Uint8Array): [number, 2 | 4 | 8, boolean][] {
  const out: [number, 2 | 4 | 8, boolean][] = [];
  const dv = new DataView(b.buffer, b.byteOffset, b.byteLength);
  for (let i = 0; i + 4 <= b.length; i++) {
    const sig = dv.getUint32(i, true);
    const add = (fields: [number, 2 | 4 | 8][]) => { for (const [o, w] of fields) if (i + o + w <= b.length) out.push([i + o, w, true]); };
    if (sig === 0x04034b50) add([[18, 4], [22, 4], [26, 2], [28, 2]]);
    if (sig === 0x02014b50) add([[20, 4], [24, 4], [28, 2], [30, 2], [32, 2], [42, 4]]);
    if (sig === 0x06054b50) add([[8, 2], [10, 2], [12, 4], [16, 4], [20, 2]]);
    if (sig === 0x06064b50) add([[24, 8], [32, 8], [40, 8], [48, 8]]);
    if (sig === 0x07064b50) add([[8, 8]]);
    if (sig === 0x4d554e93 && b[i + 4] === 0x50 && b[i + 5] === 0x59) add([[8, b[i + 6] === 1 ? 2 : 4]]);
    // zip64 extra fields (id 1) hold 8-byte sizes and offsets
    if (dv.getUint16(i, true) === 1 && i + 4 <= b.length && [16, 24, 8].includes(dv.getUint16(i + 2, true))) add([[4, 8], [12, 8]]);
  }
  return out;
}

const HUGE = [0xffff, 0x7fffffff, 0xfffffffe, 0xffffffff, 2 ** 40, 2 ** 53, 2 ** 63, 2 ** 64 - 1];

type Mutation =
  | { kind: 'flip'; flips: [number, number][] }
  | { kind: 'truncate'; at: number }
  | { kind: 'length'; pick: number; value: number; bigEndian: boolean }
  | { kind: 'bytes'; at: number; bytes: Uint8Array }
  | { kind: 'splice'; at: number; remove: number; insert: Uint8Array }
  | { kind: 'shape'; dims: number[] };

const mutation: fc.Arbitrary<Mutation> = fc.oneof(
  { weight: 4, arbitrary: fc.record({ kind: fc.constant('flip' as const), flips: fc.array(fc.tuple(fc.nat(), fc.nat(7)), { minLength: 1, maxLength: 8 }) }) },
  { weight: 2, arbitrary: fc.record({ kind: fc.constant('truncate' as const), at: fc.nat() }) },
  { weight: 3, arbitrary: fc.record({ kind: fc.constant('length' as const), pick: fc.nat(), value: fc.oneof(fc.constantFrom(...HUGE), fc.nat()), bigEndian: fc.boolean() }) },
  { weight: 1, arbitrary: fc.record({ kind: fc.constant('bytes' as const), at: fc.nat(), bytes: fc.uint8Array({ minLength: 1, maxLength: 16 }) }) },
  { weight: 1, arbitrary: fc.record({ kind: fc.constant('splice' as const), at: fc.nat(), remove: fc.nat(64), insert: fc.uint8Array({ maxLength: 16 }) }) },
  { weight: 1, arbitrary: fc.record({ kind: fc.constant('shape' as const), dims: fc.array(fc.oneof(fc.constantFrom(0, 1, 2 ** 31, 2 ** 32 - 1, 2 ** 53), fc.nat()), { maxLength: 4 }) }) },
);

function mutate(seed: Uint8Array, m: Mutation, fields: [number, 2 | 4 | 8, boolean][]): Uint8Array {
  const n = seed.length;
  switch (m.kind) {
    case 'flip': {
      const b = seed.slice();
      for (const [at, bit] of m.flips) b[at % n] ^= 1 << bit;
      return b;
    }
    case 'truncate': return seed.slice(0, m.at % n);
    case 'length': {
      const b = seed.slice();
      const dv = new DataView(b.buffer);
      // a known length field when the seed has them (its endianness), else any offset, either endianness
      const [at, width, le] = fields.length > 0 && m.pick % 4 !== 0 ? fields[m.pick % fields.length] : [m.pick % Math.max(1, n - 8), 4 as const, !m.bigEndian];
      if (width === 2) dv.setUint16(at, m.value % 0x10000, le);
      else if (width === 4) dv.setUint32(at, m.value % 2 ** 32, le);
      else dv.setBigUint64(at, BigInt(Math.min(m.value, 2 ** 64 - 1)) & 0xffffffffffffffffn, le);
      return b;
    }
    case 'bytes': {
      const b = seed.slice();
      b.set(m.bytes.subarray(0, Math.max(0, n - (m.at % n))), m.at % n);
      return b;
    }
    case 'splice': {
      const at = m.at % n;
      return concat([seed.subarray(0, at), m.insert, seed.subarray(Math.min(n, at + m.remove))]);
    }
    case 'shape': {
      // rewrite the shape tuple of every .npy header in place (a bigger header shifts what follows)
      const text = new TextDecoder('latin1').decode(seed);
      const dims = m.dims.length === 1 ? `(${m.dims[0]},)` : `(${m.dims.join(', ')})`;
      const out = text.replace(/'shape': \([^)]*\)/g, `'shape': ${dims}`);
      return Uint8Array.from(out, (c) => c.charCodeAt(0));
    }
    default: return m satisfies never;
  }
}

// ---- the property ---------------------------------------------------------------------------

interface Outcome { errors: number; loads: number; slowest: number; largestGrowth: number; largestBytes: number; samples: string[] }

/**
 * Every mutated file either loads (as the reader defines: `onLoad` checks the result) or throws
 * an Error whose message names the file and says what is wrong, in under a second, with the
 * process's array-buffer memory grown by no more than a small multiple of the file's size.
 */
function fuzz(t: ExecutionContext, seeds: Uint8Array[], runs: number, prefix: string, read: (b: Uint8Array) => void, after: (ok: boolean) => void): Outcome {
  const o: Outcome = { errors: 0, loads: 0, slowest: 0, largestGrowth: 0, largestBytes: 0, samples: [] };
  const fields = seeds.map(lengthFields);
  fc.assert(fc.property(fc.nat(seeds.length - 1), mutation, (s, m) => {
    const bytes = mutate(seeds[s], m, fields[s]);
    const buffersBefore = process.memoryUsage().arrayBuffers;
    const start = performance.now();
    let ok = true;
    try {
      read(bytes);
    } catch (e) {
      ok = false;
      if (!(e instanceof Error)) throw new Error(`threw a non-Error: ${String(e)}`);
      if (!e.message.startsWith(prefix) || e.message.length < prefix.length + 8) throw new Error(`the error does not name the file and the fault: ${e.stack}`);
      if (o.errors % Math.ceil(runs / 4) === 0) o.samples.push(e.message);
    }
    const ms = performance.now() - start;
    // allocations the read made and still holds (a lower bound: GC may already have freed some)
    const growth = (process.memoryUsage().arrayBuffers - buffersBefore) / Math.max(1, bytes.length);
    if (ms > 1000) throw new Error(`took ${ms.toFixed(0)} ms`);
    if (growth > 64 && process.memoryUsage().arrayBuffers - buffersBefore > 1 << 20) throw new Error(`array-buffer memory grew ${growth.toFixed(0)}x the file's ${bytes.length} bytes`);
    o.slowest = Math.max(o.slowest, ms);
    o.largestGrowth = Math.max(o.largestGrowth, growth);
    o.largestBytes = Math.max(o.largestBytes, process.memoryUsage().arrayBuffers - buffersBefore);
    if (ok) o.loads++; else o.errors++;
    after(ok);
  }), { numRuns: runs, seed: 20261206, endOnFailure: true, includeErrorInReport: true });
  t.log(`${runs} mutated files: ${o.errors} errors naming the file, ${o.loads} loaded (mutations in bytes the format ignores, or data values); slowest ${o.slowest.toFixed(1)} ms; array-buffer memory held after a read at most ${(o.largestBytes / 1024).toFixed(0)} KiB (zlib's output chunks), ${o.largestGrowth.toFixed(1)}x the file at most`);
  for (const m of o.samples) t.log(`  e.g. ${m}`);
  return o;
}

test(`fuzz .npz: ${RUNS.npz} mutated checkpoints (stored, deflated, zip64) load or fail cleanly; a failed load leaves the model unchanged`, async (t) => {
  const source = new Model(), opt = new optimizers.Adam().setup(source);
  const seeds = [
    await saveNpzBytes(source), await saveNpzBytes(source, { compression: true }), await saveNpzBytes(source, { zip64Limit: 0 }),
  ];
  const optSeed = await saveNpzBytes(opt);
  const want = JSON.stringify(snapshot(source));
  const target = new Model();
  const targetOpt = new optimizers.Adam().setup(target);
  targetOpt.t = 99;
  const optState = () => `${targetOpt.t}/${targetOpt.epoch}`;
  let before = JSON.stringify(snapshot(target)), optBefore = optState();
  const o = fuzz(t, [...seeds, optSeed], RUNS.npz, `loadNpz: ${NAME}: `, (b) => {
    // the optimizer seed loads into the optimizer over the target, the others into the target
    if (isOptimizerFile(b)) loadNpzBytes(b, targetOpt, { name: NAME });
    else loadNpzBytes(b, target, { name: NAME });
  }, (ok) => {
    const now = JSON.stringify(snapshot(target));
    if (!ok && (now !== before || optState() !== optBefore)) throw new Error('a failed load changed the target');
    optBefore = optState();
    // a load that passed read bytes the CRC vouches for: the seed's own values
    if (ok && now !== want && now !== before) throw new Error('a load gave values that are not the seed\'s');
    before = now;
  });
  t.true(o.errors > RUNS.npz * 0.8);
});

/** The optimizer seed is the one with a 't.npy' member name in it. */
function isOptimizerFile(b: Uint8Array): boolean {
  return Buffer.from(b.buffer, b.byteOffset, b.byteLength).includes('epoch.npy');
}

function snapshot(m: L.Link): unknown {
  const fields = m as unknown as Record<string, unknown>;
  return [...[...m.namedParams()].map(([k, p]) => [k, Array.from(p.data.toFlat())]), fields.steps, Array.from((fields.mean as NDArray).toFlat())];
}

test(`fuzz .npy: ${RUNS.npy} mutated arrays (float32, float64, int32, 0-d, Fortran order) load or fail cleanly`, (t) => {
  // the same header as kusari writes, with fortran_order True ('False' and 'True ' have the same length)
  const fortran = npy(array([[1, 2, 3], [4, 5, 6]], [2, 3], 'float32'));
  fortran.set(new TextEncoder().encode("True "), Buffer.from(fortran).indexOf('False'));
  const seeds = [
    npy(array([[1.5, -2, 3], [4, 5, 6e7]], [2, 3], 'float32')),
    npy(array([1, -2, 2147483647], [3], 'int32')),
    npy(array(Math.PI, [], 'float64')),
    fortran,
  ];
  const o = fuzz(t, seeds, RUNS.npy, `loadNpy: ${NAME}: `, (b) => {
    const where = `loadNpy: ${NAME}`;
    const x = npyToNDArray(parseNpy(b, where), where);
    if (x.toFlat().length !== x.shape.reduce((a, c) => a * c, 1)) throw new Error('a loaded array whose size is not its shape\'s');
  }, () => {});
  t.true(o.errors > RUNS.npy * 0.5);
});

test(`fuzz IDX: ${RUNS.idx} mutated MNIST-style files (plain and gzip, uint8, int32, float64) load or fail cleanly`, (t) => {
  const images = idxFile(0x08, [3, 4, 4], 1, (i) => i * 7);
  const seeds = [
    images, gzipSync(images), idxFile(0x08, [5], 1, (i) => i), gzipSync(idxFile(0x08, [5], 1, (i) => i)),
    idxFile(0x0c, [2, 3], 4, (i) => i - 3), idxFile(0x0e, [4], 8, (i) => i / 3),
  ];
  const o = fuzz(t, seeds, RUNS.idx, `readIdx: ${NAME}: `, (b) => {
    const a = training.parseIdx(b, NAME, { maxBytes: 1 << 20 });
    if (a.values.length !== a.shape.reduce((x, c) => x * c, 1)) throw new Error('a loaded array whose size is not its shape\'s');
  }, () => {});
  t.true(o.errors > RUNS.idx * 0.3);
});

test('fuzz: the seeds themselves load (the property is not vacuous)', async (t) => {
  const source = new Model(), target = new Model();
  loadNpzBytes(await saveNpzBytes(source), target);
  t.deepEqual(snapshot(target), snapshot(source));
  t.deepEqual(training.parseIdx(gzipSync(idxFile(0x08, [2, 2], 1, (i) => i)), 'x').shape, [2, 2]);
  const x = npyToNDArray(parseNpy(npy(array([1, 2], [2], 'int32')), 'x'), 'x');
  t.deepEqual(Array.from(x.toFlat()), [1, 2]);
});

test('fuzz: the memory check catches a reader that keeps an allocation sized by something other than the file', (t) => {
  let kept: Uint8Array | undefined;
  const err = t.throws(() => fuzz(t, [new Uint8Array(100)], 5, 'x', () => { kept = new Uint8Array(4 << 20); }, () => {}));
  t.regex(err!.message, /array-buffer memory grew \d+x the file's/);
  t.is(kept?.length, 4 << 20);
});

// serial: a concurrent test's synchronous work would otherwise land inside this one's awaits and its timings
test.serial('fuzz .npz through the file: 500 mutated checkpoints read with positional reads by loadNpz(path) fail the same clean way', async (t) => {
  const source = new Model();
  const seeds = [await saveNpzBytes(source), await saveNpzBytes(source, { compression: true }), await saveNpzBytes(source, { zip64Limit: 0 })];
  const fields = seeds.map(lengthFields);
  const path = join(mkdtempSync(join(tmpdir(), 'kusari-fuzz-')), 'checkpoint.npz');
  const target = new Model();
  let errors = 0;
  await fc.assert(fc.asyncProperty(fc.nat(seeds.length - 1), mutation, async (s, m) => {
    writeFileSync(path, mutate(seeds[s], m, fields[s]));
    const before = JSON.stringify(snapshot(target));
    const start = performance.now();
    try {
      await loadNpz(path, target);
    } catch (e) {
      errors++;
      if (!(e instanceof Error) || !e.message.startsWith(`loadNpz: ${path}: `)) throw new Error(`the error does not name the file: ${String(e)}`);
      if (JSON.stringify(snapshot(target)) !== before) throw new Error('a failed load changed the target');
    }
    if (performance.now() - start > 1000) throw new Error('took over a second');
  }), { numRuns: 500, seed: 20261206, endOnFailure: true, includeErrorInReport: true });
  t.log(`500 mutated files on disk: ${errors} errors naming the file, ${500 - errors} loaded`);
  t.true(errors > 400);
});
