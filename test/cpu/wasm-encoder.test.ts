// The WebAssembly encoder: LEB128 and module bytes against hand-computed encodings, and small
// generated functions (integer, control flow, SIMD, bulk memory) that validate and run.

import test from 'ava';
import { encodeModule, func, sleb, uleb, type Func } from '../../compiler/wasm/encoder.js';

test('uleb encodes 7 bits a byte, low first', (t) => {
  t.deepEqual(uleb(0), [0x00]);
  t.deepEqual(uleb(127), [0x7f]);
  t.deepEqual(uleb(128), [0x80, 0x01]);
  t.deepEqual(uleb(228), [0xe4, 0x01]); // f32x4.add's sub-opcode
  t.deepEqual(uleb(624485), [0xe5, 0x8e, 0x26]); // the example in the LEB128 article
  t.deepEqual(uleb(0xffffffff), [0xff, 0xff, 0xff, 0xff, 0x0f]);
  t.throws(() => uleb(-1), { message: /uleb: -1 is not a u32/ });
  t.throws(() => uleb(2 ** 32), { message: /not a u32/ });
  t.throws(() => uleb(1.5), { message: /not a u32/ });
});

test('sleb stops once the rest is sign extension', (t) => {
  t.deepEqual(sleb(0), [0x00]);
  t.deepEqual(sleb(-1), [0x7f]);
  t.deepEqual(sleb(63), [0x3f]);
  t.deepEqual(sleb(64), [0xc0, 0x00]); // bit 6 set would read as negative: one more byte
  t.deepEqual(sleb(-64), [0x40]);
  t.deepEqual(sleb(-65), [0xbf, 0x7f]);
  t.deepEqual(sleb(-123456), [0xc0, 0xbb, 0x78]);
  t.deepEqual(sleb(0x7fffffff), [0xff, 0xff, 0xff, 0xff, 0x07]);
  t.deepEqual(sleb(-0x80000000), [0x80, 0x80, 0x80, 0x80, 0x78]);
  t.deepEqual(sleb(0xffffffff), [0x7f]); // a u32 bit pattern is written as its i32
  t.throws(() => sleb(2 ** 32), { message: /sleb: .* is not an i32/ });
});

test('a minimal module is byte-exact', (t) => {
  const bytes = encodeModule([func([], [], () => {}, 'f')]);
  t.deepEqual([...bytes], [
    0x00, 0x61, 0x73, 0x6d, 0x01, 0x00, 0x00, 0x00,
    0x01, 0x04, 0x01, 0x60, 0x00, 0x00, // type: one () -> ()
    0x02, 0x0f, 0x01, 0x03, 0x65, 0x6e, 0x76, 0x06, 0x6d, 0x65, 0x6d, 0x6f, 0x72, 0x79, 0x02, 0x00, 0x01, // env.memory, min 1 page
    0x03, 0x02, 0x01, 0x00, // function 0 has type 0
    0x07, 0x05, 0x01, 0x01, 0x66, 0x00, 0x00, // export "f" = func 0
    0x0a, 0x04, 0x01, 0x02, 0x00, 0x0b, // code: no locals, end
  ]);
  t.true(WebAssembly.validate(bytes));
});

test('instructions encode as the spec says', (t) => {
  const code = (build: Parameters<typeof func>[2]) => func(['i32'], [], build).code.bytes;
  t.deepEqual(code((c) => void c.i32Const(-1)), [0x41, 0x7f]);
  t.deepEqual(code((c) => void c.f32Const(1)), [0x43, 0x00, 0x00, 0x80, 0x3f]);
  t.deepEqual(code((c) => void c.get(c.param(0, 'i32')).f32Load(8)), [0x20, 0x00, 0x2a, 0x02, 0x08]);
  t.deepEqual(code((c) => void c.f32x4Add()), [0xfd, 0xe4, 0x01]);
  t.deepEqual(code((c) => void c.f32x4Mul()), [0xfd, 0xe6, 0x01]);
  t.deepEqual(code((c) => void c.v128Load(16)), [0xfd, 0x00, 0x04, 0x10]);
  t.deepEqual(code((c) => void c.v128Load32Splat(4)), [0xfd, 0x09, 0x02, 0x04]);
  t.deepEqual(code((c) => void c.v128Store(300)), [0xfd, 0x0b, 0x04, 0xac, 0x02]);
  t.deepEqual(code((c) => void c.f32x4ExtractLane(3)), [0xfd, 0x1f, 0x03]);
  t.deepEqual(code((c) => void c.memoryFill()), [0xfc, 0x0b, 0x00]);
  t.deepEqual(code((c) => void c.memoryCopy()), [0xfc, 0x0a, 0x00, 0x00]);
  t.deepEqual(code((c) => void c.f64x2PromoteLowF32x4()), [0xfd, 0x5f]);
  t.deepEqual(code((c) => void c.f64x2Add()), [0xfd, 0xf0, 0x01]);
  t.deepEqual(code((c) => void c.f32x4DemoteF64x2Zero()), [0xfd, 0x5e]);
  // branch depths count outwards from the innermost enclosing block
  t.deepEqual(code((c) => void c.block((out) => c.loop((top) => c.brIf(top).br(out)))), [0x02, 0x40, 0x03, 0x40, 0x0d, 0x00, 0x0c, 0x01, 0x0b, 0x0b]);
  t.throws(() => func(['i32'], [], (c) => void c.param(0, 'f32')), { message: /param 0 is i32, not f32/ });
});

function instantiate(funcs: readonly Func[]) {
  const memory = new WebAssembly.Memory({ initial: 1 });
  const bytes = encodeModule(funcs);
  const { exports } = new WebAssembly.Instance(new WebAssembly.Module(bytes), { env: { memory } });
  return { exports: exports as Record<string, (...args: number[]) => number>, memory };
}

test('locals, a loop and br_if: the sum 1 + ... + n', (t) => {
  const sum = func(['i32'], ['i32'], (c) => {
    const n = c.param(0, 'i32'), acc = c.local('i32');
    c.block((done) => {
      c.get(n).i32Eqz().brIf(done);
      c.loop((top) => {
        c.get(acc).get(n).i32Add().set(acc);
        c.get(n).i32Const(1).i32Sub().tee(n).brIf(top);
      });
    });
    c.get(acc);
  }, 'sum');
  const { exports } = instantiate([sum]);
  t.is(exports.sum(0), 0);
  t.is(exports.sum(1), 1);
  t.is(exports.sum(100), 5050);
});

test('calls, select and if', (t) => {
  const min = func(['i32', 'i32'], ['i32'], (c) => {
    const [a, b] = [c.param(0, 'i32'), c.param(1, 'i32')];
    c.get(a).get(b).get(a).get(b).i32LtS().select();
  }, 'min');
  // clamp(x) = min(x, 10), and -1 for negative x through an `if` that stores to memory
  const clamp = func(['i32'], ['i32'], (c) => {
    const x = c.param(0, 'i32');
    c.get(x).i32Const(0).i32LtS().if(() => void c.i32Const(0).i32Const(-1).i32Store());
    c.get(x).i32Const(10).call(0);
  }, 'clamp');
  const { exports, memory } = instantiate([min, clamp]);
  t.is(exports.min(3, -4), -4);
  t.is(exports.clamp(42), 10);
  t.is(new Int32Array(memory.buffer)[0], 0);
  t.is(exports.clamp(-5), -5);
  t.is(new Int32Array(memory.buffer)[0], -1);
});

test('SIMD: y[0:4] = a * b + c[0:4] with a splatted, read back lane by lane', (t) => {
  const fma = func(['i32', 'f32'], ['f32'], (c) => {
    const [p, s] = [c.param(0, 'i32'), c.param(1, 'f32')];
    const y = c.local('v128');
    c.get(p).get(p).v128Load32Splat(0).get(p).v128Load(16).f32x4Mul().get(s).f32x4Splat().f32x4Add().v128Store(32);
    c.get(p).v128Load(32).tee(y).f32x4ExtractLane(0).get(y).f32x4ExtractLane(3).f32Add();
  }, 'fma');
  const shuffle = func(['i32'], [], (c) => {
    const p = c.param(0, 'i32');
    c.get(p).get(p).v128Load(0).get(p).v128Load(16).f32x4Shuffle(0, 4, 1, 5).v128Store(48);
    c.get(p).i32Const(64).i32Add().i32Const(0).i32Const(16).memoryFill();
    c.get(p).v128Load(0).v128Const([1, 2, 3, 4]).f32x4Sub().drop(); // validates: v128 - v128
  }, 'shuffle');
  const { exports, memory } = instantiate([fma, shuffle]);
  const f = new Float32Array(memory.buffer);
  f.set([2, 0, 0, 0, 1, 2, 3, 4], 4); // at byte 16: a = 2, then b
  t.is(exports.fma(16, 0.5), (2 * 1 + 0.5) + (2 * 4 + 0.5));
  t.deepEqual([...f.subarray(12, 16)], [2.5, 4.5, 6.5, 8.5]);
  f.fill(7, 20, 24);
  exports.shuffle(16);
  t.deepEqual([...f.subarray(16, 20)], [2, 1, 0, 2]);
  t.deepEqual([...f.subarray(20, 24)], [0, 0, 0, 0]);
});

test('a body that leaves values wrong fails validation, not silently', (t) => {
  const bad = func([], [], (c) => void c.i32Const(1));
  t.false(WebAssembly.validate(encodeModule([bad])));
});
