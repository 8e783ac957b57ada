// Parameters resident in the WebAssembly matmul's memory: the arena's bookkeeping (random
// alloc/free sequences), the results bit for bit against the same values in ordinary arrays,
// and blocks coming back once their arrays are collected.

import test from 'ava';
import fc from 'fast-check';
import { execFile } from 'node:child_process';
import { promisify } from 'node:util';
import { F, L, Variable, optimizers } from '../../runtime/index.js';
import { Parameter } from '../../runtime/links/link.js';
import { Arena, LINE_FLOATS } from '../../runtime/array/cpu/wasm-arena.js';
import { isResident, residentCopy, residentStats, wasmAxpy } from '../../runtime/array/cpu/wasm-matmul.js';
import { NDArray } from '../../runtime/array/ndarray.js';
import { uniform, useDevices } from '../helpers.js';

const devices = await useDevices(test);

/** Seeded uniform float32 in [-1, 1). */
const f32 = (shape: readonly number[], seed: number): NDArray => new NDArray(Float32Array.from(uniform(shape, seed).toFlat()), shape.slice());

test('arena: random alloc/free sequences never overlap live blocks, and the scratch base falls back as the top blocks are freed', (t) => {
  const capacity = 4096;
  const op = fc.oneof(fc.record({ alloc: fc.integer({ min: 0, max: 700 }) }), fc.record({ free: fc.nat() }));
  fc.assert(fc.property(fc.array(op, { maxLength: 60 }), (ops) => {
    const arena = new Arena(capacity);
    const live: { at: number; floats: number }[] = [];
    const size = (floats: number) => Math.ceil(Math.max(floats, 1) / LINE_FLOATS) * LINE_FLOATS;
    for (const o of ops) {
      if ('alloc' in o) {
        const at = arena.alloc(o.alloc);
        if (at === undefined) {
          // refused only when no gap and no room past the end could hold it
          t.true(arena.end + size(o.alloc) > capacity);
          continue;
        }
        t.is(at % LINE_FLOATS, 0);
        for (const b of live) t.true(at + size(o.alloc) <= b.at || b.at + size(b.floats) <= at, `block at ${at} overlaps one at ${b.at}`);
        live.push({ at, floats: o.alloc });
      } else if (live.length > 0) {
        const [b] = live.splice(o.free % live.length, 1);
        arena.free(b.at, b.floats);
      }
      t.is(arena.used, live.reduce((s, b) => s + size(b.floats), 0));
      t.is(arena.end, Math.max(0, ...live.map((b) => b.at + size(b.floats))));
    }
  }), { seed: 0x6b75 });
});

test("a Linear's parameters live in the matmul's memory (views of its SharedArrayBuffer); an array handed to Parameter stays that array", (t) => {
  const l = new L.Linear(30, 20);
  t.true(isResident(l.W.data));
  t.true(isResident(l.b!.data));
  t.true(l.W.data.buffer.buffer instanceof SharedArrayBuffer);
  const mine = f32([4, 3], 1);
  const p = new Parameter(mine);
  t.is(p.data, mine);
  t.false(isResident(p.data));
  // float64 and int32 data have no place there
  t.false(isResident(residentCopy(new NDArray(new Float64Array(3), [3]))));
});

/** The same Linear twice: one with resident parameters, one with the same values in ordinary arrays. */
function twins(inSize: number, outSize: number, seed: number): [L.Linear, L.Linear] {
  const W = f32([outSize, inSize], seed), b = f32([outSize], seed + 1);
  const resident = new L.Linear(inSize, outSize, { initialW: () => W, initialBias: () => b });
  const plain = new L.Linear(inSize, outSize);
  plain.W.data = new NDArray(W.toFlat(), W.shape.slice());
  plain.b!.data = new NDArray(b.toFlat(), b.shape.slice());
  return [resident, plain];
}

for (const [batch, inSize, outSize, activation] of [[100, 784, 100, 'relu'], [7, 33, 5, undefined], [1, 9, 1, 'relu']] as const) {
  test(`linear ${batch}x${inSize} -> ${outSize}${activation ? ' + relu' : ''}: forward, backward and SGD on resident parameters equal those on ordinary arrays bit for bit, read in place`, (t) => {
    const [resident, plain] = twins(inSize, outSize, batch + inSize);
    t.true(isResident(resident.W.data) && !isResident(plain.W.data));
    const run = (l: L.Linear) => {
      const x = new Variable(f32([batch, inSize], 7));
      const y = F.linear(x, l.W, l.b!, activation === undefined ? {} : { activation });
      F.sum(F.mul(y, y)).backward();
      const opt = new optimizers.SGD(0.1);
      opt.setup(l);
      opt.update();
      return { y: Array.from(y.data.toFlat()), gx: Array.from(x.grad!.toFlat()), gW: Array.from(l.W.grad!.toFlat()), gb: Array.from(l.b!.grad!.toFlat()), W: Array.from(l.W.data.toFlat()), b: Array.from(l.b!.data.toFlat()) };
    };
    const readsBefore = residentStats.reads;
    const WBefore = resident.W.data;
    const r = run(resident);
    t.true(residentStats.reads > readsBefore, 'the resident W was read in place');
    t.is(resident.W.data, WBefore, 'updated where it lies');
    t.true(isResident(resident.W.data));
    t.deepEqual(r, run(plain));
  });
}

test('a batched product with a resident right operand equals the same product on an ordinary array', (t) => {
  const W = residentCopy(f32([3, 6, 5], 3));
  t.true(isResident(W));
  const plainW = new NDArray(W.toFlat(), W.shape.slice());
  const x = f32([3, 4, 6], 4);
  const reads = residentStats.reads;
  t.deepEqual(F.matmul(x, W).data.toFlat(), F.matmul(x, plainW).data.toFlat());
  // and through a transposed view (the in-place dot kernel's layout)
  const x2 = f32([3, 4, 5], 5);
  t.deepEqual(F.matmul(x2, W.transpose([0, 2, 1])).data.toFlat(), F.matmul(x2, plainW.transpose([0, 2, 1])).data.toFlat());
  t.is(residentStats.reads - reads, 6, 'each batch entry of W read in place, both times');
});

test('axpy over a mix of resident and ordinary arrays, an x aliasing a y among them, equals the all-ordinary update', (t) => {
  const sizes = [5, 16, 33, 1];
  const make = (resident: boolean) => sizes.map((n, i) => (resident && i % 2 === 0 ? residentCopy(f32([n], 10 + i)) : new NDArray(f32([n], 10 + i).toFlat(), [n])));
  const mixed = make(true), plain = make(false);
  t.true(isResident(mixed[0]) && !isResident(mixed[1]));
  // the last pair's x is the first y: it must be read before the first y is written
  const xs = (ys: NDArray[]) => [f32([5], 20), f32([16], 21), f32([33], 22), new NDArray(ys[0].buffer, [1])];
  t.true(wasmAxpy(-0.5, xs(mixed), mixed));
  t.true(wasmAxpy(-0.5, xs(plain), plain));
  t.deepEqual(mixed.map((a) => Array.from(a.toFlat())), plain.map((a) => Array.from(a.toFlat())));
});

test("resident blocks come back once their parameters are collected: 300 models' worth stays within a few dozen", async (t) => {
  const script = `
    const { L } = await import('./runtime/index.ts');
    const { residentFloats } = await import('./runtime/array/cpu/wasm-matmul.ts');
    let peak = 0;
    for (let i = 0; i < 300; i++) {
      void new L.Linear(500, 500);
      peak = Math.max(peak, residentFloats());
      if (i % 10 === 9) { await new Promise((r) => setTimeout(r, 0)); globalThis.gc(); await new Promise((r) => setTimeout(r, 0)); }
    }
    console.log(peak);`;
  const { stdout } = await promisify(execFile)(process.execPath, ['--expose-gc', '--import', 'tsx', '--input-type=module', '-e', script], { timeout: 60_000 });
  const peakModels = Number(stdout.trim()) / 250_500;
  // without reclaiming, 300 models; collected every 10, about 10 (a few more where the collector lags)
  t.true(peakModels > 0 && peakModels <= 40, `peak ${peakModels.toFixed(1)} models' parameters resident`);
});

test('a loop that never yields to the event loop (no finalizer runs) holds at most RESIDENT_MAX_FLOATS; later parameters are ordinary arrays', async (t) => {
  const script = `
    const { L } = await import('./runtime/index.ts');
    const { RESIDENT_MAX_FLOATS, isResident, residentFloats } = await import('./runtime/array/cpu/wasm-matmul.ts');
    const flags = [];
    let peak = 0;
    for (let i = 0; i < 6; i++) {
      const l = new L.Linear(2048, 2048); // 4M floats and a bias: the fourth W no longer fits
      flags.push(isResident(l.W.data));
      peak = Math.max(peak, residentFloats());
    }
    console.log(JSON.stringify({ flags, peak, cap: RESIDENT_MAX_FLOATS }));`;
  const { stdout } = await promisify(execFile)(process.execPath, ['--import', 'tsx', '--input-type=module', '-e', script], { timeout: 60_000 });
  const { flags, peak, cap } = JSON.parse(stdout.trim()) as { flags: boolean[]; peak: number; cap: number };
  t.deepEqual(flags, [true, true, true, false, false, false]);
  t.true(peak <= cap, `${peak} floats resident, cap ${cap}`);
});

devices.gpu('a model moved to the GPU and back has resident parameters again, with the values it had', async (t) => {
  const l = new L.Linear(12, 7);
  const before = Array.from(l.W.data.toFlat());
  l.toGpu();
  t.false(isResident(l.W.data));
  await l.toCpu();
  t.true(isResident(l.W.data) && isResident(l.b!.data));
  t.deepEqual(Array.from(l.W.data.toFlat()), before);
});
