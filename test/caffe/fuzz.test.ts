// Fuzzing the readers: mutated and truncated caffemodels and prototxts give only located Errors, fast, with bounded memory.

import { readdirSync, readFileSync } from 'node:fs';
import test from 'ava';
import { CaffeFunction } from '../../runtime/caffe/caffe-function.js';
import { readCaffemodel } from '../../runtime/caffe/caffemodel.js';
import { readPrototxt } from '../../runtime/caffe/prototxt.js';
import '../../runtime/graph/backward.js';
import { caffeProto } from './caffe-proto.js';
import { SHARED_CAFFE, sharedFolder } from './caffe-helpers.js';

/** mulberry32: a small seeded generator, so every failure can be replayed from its seed. */
function rng(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}
const pick = <T>(r: () => number, xs: readonly T[]): T => xs[Math.floor(r() * xs.length)];
const int = (r: () => number, n: number) => Math.floor(r() * n);

function varint(n: number): number[] {
  const out: number[] = [];
  while (n >= 0x80) { out.push((n % 0x80) | 0x80); n = Math.floor(n / 0x80); }
  out.push(n);
  return out;
}

/** `b` with `del` bytes at `at` replaced by `ins` (typed arrays: a spread of 1.7 MB would overflow the stack). */
function splice(b: Uint8Array, at: number, del: number, ins: ArrayLike<number> = []): Uint8Array {
  const end = Math.min(b.length, at + del);
  const out = new Uint8Array(at + ins.length + b.length - end);
  out.set(b.subarray(0, at));
  out.set(ins, at);
  out.set(b.subarray(end), at + ins.length);
  return out;
}

/** One to three mutations of a binary file: bit flips, random bytes, huge length varints, cuts, splices. */
function mutateBytes(seed: Uint8Array, r: () => number): Uint8Array {
  let b: Uint8Array = seed.slice();
  for (let m = 1 + int(r, 3); m > 0; m--) {
    const at = int(r, Math.max(1, b.length));
    switch (int(r, 6)) {
      case 0: for (let k = 1 + int(r, 8); k > 0; k--) { const i = int(r, b.length); b[i] ^= 1 << int(r, 8); } break;
      case 1: b[at] = int(r, 256); break;
      case 2: {
        // a length field far larger than the file: 2^31 - 1, 2^28 + x, or just past the end
        const huge = pick(r, [2 ** 31 - 1, 2 ** 28 + int(r, 1000), b.length - at + 1 + int(r, 100), 2 ** 35]);
        b = splice(b, at, 1 + int(r, 5), varint(huge));
        break;
      }
      case 3: b = b.slice(0, at); break;
      case 4: { const from = int(r, b.length); b = splice(b, at, 0, b.slice(from, from + int(r, 64))); break; }
      default: b = splice(b, at, int(r, 16)); break;
    }
  }
  return b;
}

const TEXT_BITS = ['{', '}', '<', '>', '[', ']', ':', ',', '"', "'", '#', '\n', '-', '\\', 'layer {', 'dim: 99999999999999999999', 'inf', 'nan',
  'num_output: 0', 'kernel_size: 7', 'top: "data"', 'bottom: "x"', 'type: "Pooling"', 'pool: STOCHASTIC', '0x7fffffff', '{'.repeat(100), 'layers { type: RELU }',
  'blobs { shape { dim: 1000000 dim: 1000000 } data: 1 }', 'input_dim: -5', 'name: "\\x', 'phase: TRAIN', 'include { phase: TEST }'];

/** One to three mutations of a text file: cuts, deletions, character flips, inserted tokens. */
function mutateText(seed: string, r: () => number): string {
  let s = seed;
  for (let m = 1 + int(r, 3); m > 0; m--) {
    const at = int(r, s.length + 1);
    switch (int(r, 4)) {
      case 0: s = s.slice(0, at); break;
      case 1: s = s.slice(0, at) + s.slice(at + 1 + int(r, 20)); break;
      case 2: s = s.slice(0, at) + String.fromCharCode(int(r, 128)) + s.slice(at + 1); break;
      default: s = s.slice(0, at) + pick(r, TEXT_BITS) + s.slice(at); break;
    }
  }
  return s;
}

interface Outcome { ok: number; errors: number; maxMs: number; maxGrowth: number; maxGrowthFile: number }

/**
 * Run `fn` on `n` mutants: each must succeed or throw an Error whose message starts with
 * `<file>: byte N` / `<file>: line N`, within 1 s, and grow live ArrayBuffer memory by at
 * most twice the mutant's size plus 1 MiB (so no allocation is sized by a length field).
 */
function fuzz<T extends Uint8Array | string>(
  n: number, seeds: readonly T[], mutate: (seed: T, r: () => number) => T, fn: (x: T) => unknown, located: RegExp, seed0: number,
): Outcome {
  const out: Outcome = { ok: 0, errors: 0, maxMs: 0, maxGrowth: 0, maxGrowthFile: 0 };
  for (let i = 0; i < n; i++) {
    const r = rng(seed0 + i);
    const input = mutate(pick(r, seeds), r);
    const before = process.memoryUsage().arrayBuffers;
    const t0 = performance.now();
    try {
      fn(input);
      out.ok++;
    } catch (e) {
      if (!(e instanceof Error) || e.constructor !== Error || !located.test(e.message)) {
        throw new Error(`mutant ${i} (seed ${seed0 + i}) threw ${e instanceof Error ? `${e.constructor.name}: ${e.message}` : String(e)}`);
      }
      out.errors++;
    }
    const ms = performance.now() - t0;
    const extra = process.memoryUsage().arrayBuffers - before;
    out.maxMs = Math.max(out.maxMs, ms);
    if (extra > out.maxGrowth) [out.maxGrowth, out.maxGrowthFile] = [extra, input.length];
    if (ms > 1000) throw new Error(`mutant ${i} (seed ${seed0 + i}) took ${ms.toFixed(0)} ms`);
    if (extra > 2 * input.length + 2 ** 20) throw new Error(`mutant ${i} (seed ${seed0 + i}) grew ArrayBuffer memory by ${extra} bytes for a ${input.length}-byte file`);
  }
  return out;
}

const quiet = { warn: () => {} };
const folders = ['caffe1_layers', 'opencv_layers_2015', 'lenet_2016'].map((f) => sharedFolder(test, f)).filter((d): d is string => d !== null);
const files = (ext: string) => folders.flatMap((d) => readdirSync(d).filter((f) => f.endsWith(ext)).map((f) => `${d}/${f}`));

if (folders.length === 3) {
  // a V1 seed too, written with protobufjs
  const Net = caffeProto(true).lookupType('caffe.NetParameter');
  const v1 = Net.encode(Net.fromObject({
    input: ['data'], input_dim: [1, 4, 1, 1],
    layers: [
      { name: 'ip', type: 'INNER_PRODUCT', bottom: ['data'], top: ['ip'], inner_product_param: { num_output: 2 },
        blobs: [{ num: 1, channels: 1, height: 2, width: 4, data: [1, 2, 3, 4, 5, 6, 7, 8] }, { num: 1, channels: 1, height: 1, width: 2, data: [0, 1] }] },
      { name: 'relu', type: 'RELU', bottom: ['ip'], top: ['ip'] },
    ],
  })).finish();
  const small = files('.caffemodel').filter((f) => !f.includes('lenet')).map((f) => new Uint8Array(readFileSync(f)));
  const lenet = new Uint8Array(readFileSync(`${SHARED_CAFFE}lenet_2016/lenet_iter_10000.caffemodel`));
  const texts = files('.prototxt').map((f) => readFileSync(f, 'utf8'));

  test('fuzz: 5,500 mutated small caffemodels (current and V1) give only errors naming the file and byte', (t) => {
    const o = fuzz(5500, [...small, v1], mutateBytes, (b) => new CaffeFunction(b, quiet), /^caffemodel: byte \d+: /, 1);
    t.log(`ok ${o.ok}, errors ${o.errors}, slowest ${o.maxMs.toFixed(1)} ms, largest ArrayBuffer growth ${o.maxGrowth} bytes (for a ${o.maxGrowthFile}-byte file)`);
    t.true(o.errors > 1000 && o.ok > 100, 'the mutants exercise both outcomes');
  });

  test('fuzz: 500 mutated LeNet caffemodels (1.7 MB) give only errors naming the file and byte', (t) => {
    const o = fuzz(500, [lenet], mutateBytes, (b) => readCaffemodel(b, 'lenet.caffemodel'), /^lenet\.caffemodel: byte \d+: /, 100_000);
    t.log(`ok ${o.ok}, errors ${o.errors}, slowest ${o.maxMs.toFixed(1)} ms, largest ArrayBuffer growth ${o.maxGrowth} bytes (for a ${o.maxGrowthFile}-byte file)`);
    t.true(o.errors > 100);
  });

  test('fuzz: 4,500 mutated prototxts give only errors naming the file and line', (t) => {
    const o = fuzz(4500, texts, mutateText, (s) => new CaffeFunction(null, { prototxt: new TextEncoder().encode(s), ...quiet }), /^prototxt: line \d+(, column \d+)?: /, 200_000);
    t.log(`ok ${o.ok}, errors ${o.errors}, slowest ${o.maxMs.toFixed(1)} ms, largest ArrayBuffer growth ${o.maxGrowth} bytes (for a ${o.maxGrowthFile}-byte file)`);
    t.true(o.errors > 1000 && o.ok > 100, 'the mutants exercise both outcomes');
    // and the reader alone, for nets CaffeFunction would refuse before reading all of them
    const p = fuzz(500, texts, mutateText, (s) => readPrototxt(s, 'p.prototxt'), /^p\.prototxt: line \d+(, column \d+)?: /, 300_000);
    t.true(p.errors > 100);
  });
}
