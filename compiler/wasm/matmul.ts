// Generates the SIMD matmul module: a register-blocked micro-kernel over packed panels, the
// loop that walks it over one cache block of C, the packers that build those panels, an
// unpacked kernel for x W^T, and the small loops on staged data around them (bias/relu
// epilogue, relu mask, bias sums, axpy)
// (the host stages operands, picks cache blocks and copies C out: runtime/array/cpu/wasm-matmul.ts).

import { encodeModule, func, type Code, type Local, type ModuleMemory } from './encoder.js';

/**
 * The micro-kernel's shape: an `mr` x `nr` tile of C lives in `mr * nr / 4` v128 locals
 * for the whole k loop. x86-64 has sixteen xmm registers: accumulators + nr / 4 B vectors +
 * one A broadcast + one product must fit, or the register allocator spills in the hot loop
 * (3 x 12 does, and runs at half speed). `unroll` repeats the loop body; on V8 (Node 20) it
 * only hurt (2 or 4 ran 20-40% slower than 1: longer live ranges, spills), so it stays 1.
 */
export interface Tile {
  readonly mr: number;
  /** a multiple of 4 (one v128 holds four columns) */
  readonly nr: number;
  readonly unroll: number;
  /** multiply-add with relaxed SIMD's f32x4.relaxed_madd (one FMA instruction on x86 with FMA3) */
  readonly fma?: boolean;
}

/**
 * 4 x 8: measured best with 2 x 16 on a Zen 3 core (~30 GFLOP/s in-kernel), fewer padded rows
 * for m = 100. With fma (runtime/array/cpu/wasm-matmul.ts turns it on where relaxed SIMD
 * validates) 4 x 8 stays best: 6 x 8, 4 x 12, 3 x 16 and unroll 2 all spill and run at half speed.
 */
export const DEFAULT_TILE: Tile = { mr: 4, nr: 8, unroll: 1 };

/**
 * Packed layouts (f32, all offsets in bytes, k padded with zeros to a multiple of `unroll`):
 * - A panel `i` (rows mr*i .. mr*i + mr - 1): kc steps of mr values, `A[p * mr + r]`;
 * - B panel `j` (columns nr*j .. nr*j + nr - 1): kc steps of nr values, `B[p * nr + q]`;
 * - C: row-major with row stride `ldc` bytes, rows and columns padded to whole tiles.
 *
 * Functions (all but the first exported):
 * - `kernel(a, b, c, kc, ldc, accumulate)`: one tile, C = A panel @ B panel (+ C if accumulate);
 * - `gemm(a, b, c, mc, nc, kc, ldc, accumulate)`: every tile of an mc x nc block
 *   (multiples of mr and nr), B panel outermost so it stays in L1 while A panels stream by;
 * - `packA`, `packB`: see `packer` below;
 * - `epilogue`: linear's bias add and relu on C, see `epilogue` below;
 * - `reluMask`, `columnSums`: linear's backward before its two products, see below;
 * - `closeRows`: C's rows closed up before the copy out, see below;
 * - `axpy`: y += alpha x, the SGD update over many parameters in one call, see below;
 * - `dot`: C = A @ B read in place (no packing) where both run along k, see below.
 */
export function matmulModule(tile: Tile = DEFAULT_TILE, memory: ModuleMemory = { minPages: 1 }): Uint8Array<ArrayBuffer> {
  const { mr, nr, unroll } = tile;
  if (nr % 4 !== 0 || mr < 1 || unroll < 1) throw new Error(`matmulModule: bad tile ${JSON.stringify(tile)}`);
  const kernel = func(['i32', 'i32', 'i32', 'i32', 'i32', 'i32'], [], (c) => microKernel(c, tile));
  const gemm = func(['i32', 'i32', 'i32', 'i32', 'i32', 'i32', 'i32', 'i32'], [], (c) => {
    const [a, b, cc, mc, nc, kc, ldc, accumulate] = [0, 1, 2, 3, 4, 5, 6, 7].map((i) => c.param(i, 'i32'));
    const aPanel = c.local('i32'), bPanel = c.local('i32'), cBlockRow = c.local('i32');
    const ap = c.local('i32'), cp = c.local('i32'), cCol = c.local('i32'), i = c.local('i32');
    c.get(kc).i32Const(mr * 4).i32Mul().set(aPanel);
    c.get(kc).i32Const(nr * 4).i32Mul().set(bPanel);
    c.get(ldc).i32Const(mr).i32Mul().set(cBlockRow);
    c.get(cc).set(cCol);
    c.loop((columns) => {
      c.get(a).set(ap).get(cCol).set(cp).get(mc).set(i);
      c.loop((rows) => {
        c.get(ap).get(b).get(cp).get(kc).get(ldc).get(accumulate).call(0);
        addTo(c, ap, aPanel);
        addTo(c, cp, cBlockRow);
        c.get(i).i32Const(mr).i32Sub().tee(i).brIf(rows);
      });
      addTo(c, b, bPanel);
      c.get(cCol).i32Const(nr * 4).i32Add().set(cCol);
      c.get(nc).i32Const(nr).i32Sub().tee(nc).brIf(columns);
    });
  }, 'gemm');
  const packA = func(PACK_PARAMS, [], (c) => packer(c, mr), 'packA');
  const packB = func(PACK_PARAMS, [], (c) => packer(c, nr), 'packB');
  return encodeModule([
    kernel, gemm, packA, packB,
    func(['i32', 'i32', 'i32', 'i32', 'i32', 'i32'], [], epilogue, 'epilogue'),
    func(['i32', 'i32', 'i32'], [], reluMask, 'reluMask'),
    func(['i32', 'i32', 'i32', 'i32', 'i32'], [], columnSums, 'columnSums'),
    func(['i32', 'i32', 'i32', 'i32'], [], closeRows, 'closeRows'),
    func(['i32', 'i32', 'i32', 'f32'], [], axpy, 'axpy'),
    func(['i32', 'i32', 'i32', 'i32', 'i32', 'i32', 'i32', 'i32', 'i32', 'i32'], [], (c) => dot(c, tile.fma === true), 'dot'),
  ], memory);
}

/**
 * `dot(a, lda, b, ldb, c, ldc, mc, nc, groups, tail)`: C (mc x nc, multiples of 2 and 4, `ldc`
 * bytes a row) = A @ B for an A whose rows (`lda` bytes apart) and a B whose columns (`ldb`
 * bytes apart) both run along k in unit steps, k = 4 groups + tail: x W^T in a linear layer's
 * forward, read where they were staged. Packing both into panels is then two transposes of
 * each operand before any multiply (as much as a sixth of the forward for the MLP's shapes);
 * here each 2 x 4 tile of C instead keeps eight v128 sums along k (four lanes of partial
 * sums each) and adds their lanes once at the end, (l0 + l2) + (l1 + l3). Six loads feed
 * eight multiply-adds, as in the packed kernel. Rows past m and columns past n read whatever
 * follows the operands (the host keeps that inside the heap); they reach only C's padding. The
 * tail's lanes past k are cleared in both operands, so a NaN there cannot reach C.
 */
function dot(c: Code, fma: boolean): void {
  const [a, lda, b, ldb, cc, ldc, mc, nc, groups, tail] = [0, 1, 2, 3, 4, 5, 6, 7, 8, 9].map((i) => c.param(i, 'i32'));
  const acc = [0, 1].map(() => [0, 1, 2, 3].map(() => c.local('v128')));
  const av = [0, 1].map(() => c.local('v128'));
  const bv = c.local('v128'), mask = c.local('v128'), t0 = c.local('v128'), t1 = c.local('v128');
  const pa = [0, 1].map(() => c.local('i32')), pb = [0, 1, 2, 3].map(() => c.local('i32'));
  const aRow = c.local('i32'), cRow = c.local('i32'), cCol = c.local('i32'), i = c.local('i32'), g = c.local('i32');
  const madd = (r: number, q: number) => {
    if (fma) c.get(av[r]).get(bv).get(acc[r][q]).f32x4RelaxedMadd().set(acc[r][q]);
    else c.get(acc[r][q]).get(av[r]).get(bv).f32x4Mul().f32x4Add().set(acc[r][q]);
  };
  // one k group: two rows of A, then each column of B against both
  const body = (masked: boolean) => {
    for (let r = 0; r < 2; r++) {
      c.get(pa[r]).v128Load(0, 2);
      if (masked) c.get(mask).v128And();
      c.set(av[r]);
    }
    for (let q = 0; q < 4; q++) {
      c.get(pb[q]).v128Load(0, 2);
      if (masked) c.get(mask).v128And();
      c.set(bv);
      madd(0, q);
      madd(1, q);
    }
  };
  // lanes below `tail` all ones
  c.v128Const([0, 1, 2, 3]).get(tail).f32ConvertI32U().f32x4Splat().f32x4Lt().set(mask);
  c.get(cc).set(cCol);
  c.loop((columns) => {
    c.get(a).set(aRow).get(cCol).set(cRow).get(mc).set(i);
    c.loop((rows) => {
      c.get(aRow).set(pa[0]).get(aRow).get(lda).i32Add().set(pa[1]);
      c.get(b).set(pb[0]);
      for (let q = 1; q < 4; q++) c.get(pb[q - 1]).get(ldb).i32Add().set(pb[q]);
      for (const row of acc) for (const v of row) c.v128Const([0, 0, 0, 0]).set(v);
      c.get(groups).set(g);
      c.get(g).if(() => {
        c.loop((k) => {
          body(false);
          for (const p of [...pa, ...pb]) c.get(p).i32Const(16).i32Add().set(p);
          c.get(g).i32Const(1).i32Sub().tee(g).brIf(k);
        });
      });
      c.get(tail).if(() => body(true));
      // per row: transpose-add the four columns' sums into one vector, (l0 + l2) + (l1 + l3) a lane
      for (let r = 0; r < 2; r++) {
        const [s0, s1, s2, s3] = acc[r];
        c.get(s0).get(s1).f32x4Shuffle(0, 4, 1, 5).get(s0).get(s1).f32x4Shuffle(2, 6, 3, 7).f32x4Add().set(t0);
        c.get(s2).get(s3).f32x4Shuffle(0, 4, 1, 5).get(s2).get(s3).f32x4Shuffle(2, 6, 3, 7).f32x4Add().set(t1);
        c.get(cRow);
        if (r === 1) c.get(ldc).i32Add();
        c.get(t0).get(t1).f32x4Shuffle(0, 1, 4, 5).get(t0).get(t1).f32x4Shuffle(2, 3, 6, 7).f32x4Add().v128Store(0, 2);
      }
      c.get(aRow).get(lda).i32Const(2).i32Mul().i32Add().set(aRow);
      c.get(cRow).get(ldc).i32Const(2).i32Mul().i32Add().set(cRow);
      c.get(i).i32Const(2).i32Sub().tee(i).brIf(rows);
    });
    c.get(b).get(ldb).i32Const(4).i32Mul().i32Add().set(b);
    c.get(cCol).i32Const(16).i32Add().set(cCol);
    c.get(nc).i32Const(4).i32Sub().tee(nc).brIf(columns);
  });
}

/**
 * `axpy(y, x, groups, alpha)`: y += alpha x over `groups` x 4 floats, in place (BLAS's saxpy):
 * SGD's W - lr g with alpha = -lr, f32(-lr g) + W being exactly f32(W - f32(lr g)), the
 * generated elementwise kernel's float32 arithmetic for W.sub(lr.mul(g)).
 */
function axpy(c: Code): void {
  const [y, x, groups] = [0, 1, 2].map((i) => c.param(i, 'i32'));
  const a = c.local('v128');
  c.get(c.param(3, 'f32')).f32x4Splat().set(a);
  c.loop((next) => {
    c.get(y).get(y).v128Load(0, 2).get(a).get(x).v128Load(0, 2).f32x4Mul().f32x4Add().v128Store(0, 2);
    c.get(y).i32Const(16).i32Add().set(y);
    c.get(x).i32Const(16).i32Add().set(x);
    c.get(groups).i32Const(1).i32Sub().tee(groups).brIf(next);
  });
}

/**
 * `closeRows(c, rows, ldc, n)`: move row i of C (`ldc` bytes apart) to i * `n` bytes, closing
 * up the padding columns so that C copies out in one piece: one memory.copy a row here, where
 * a copyWithin call a row from JS cost about as much as a small product's packing.
 */
function closeRows(c: Code): void {
  const [cp, rows, ldc, n] = [0, 1, 2, 3].map((i) => c.param(i, 'i32'));
  const dst = c.local('i32'), src = c.local('i32');
  c.get(cp).get(n).i32Add().set(dst).get(cp).get(ldc).i32Add().set(src);
  c.get(rows).i32Const(1).i32GtU().if(() => {
    c.loop((next) => {
      c.get(dst).get(src).get(n).memoryCopy();
      addTo(c, dst, n);
      addTo(c, src, ldc);
      c.get(rows).i32Const(1).i32Sub().tee(rows).i32Const(1).i32GtU().brIf(next);
    });
  });
}

/**
 * `reluMask(g, y, groups)`: g = y <= 0 ? 0 : g over `groups` x 4 floats, in place: the
 * backward of linear's relu epilogue from its output y. F.relu's select(y <= 0, 0, g) bit for
 * bit: the lanes where y <= 0 are cleared, so a NaN y passes g and a NaN g where y <= 0 gives 0.
 */
function reluMask(c: Code): void {
  const [g, y, groups] = [0, 1, 2].map((i) => c.param(i, 'i32'));
  c.loop((next) => {
    c.get(g).get(g).v128Load(0, 2).get(y).v128Load(0, 2).v128Const([0, 0, 0, 0]).f32x4Le().v128AndNot().v128Store(0, 2);
    c.get(g).i32Const(16).i32Add().set(g);
    c.get(y).i32Const(16).i32Add().set(y);
    c.get(groups).i32Const(1).i32Sub().tee(groups).brIf(next);
  });
}

/**
 * `columnSums(src, rows, groups, ld, dst)`: dst[j] = sum over the `rows` rows (`ld` bytes apart)
 * of src[j], for `groups` x 4 columns: linear's bias gradient. Summed in float64 row by row and
 * rounded to float32 once, as the sum reduction does (a sum over a large batch does not drift).
 * Columns past the last whole group read whatever follows; the host drops them.
 */
function columnSums(c: Code): void {
  const [src, rows, groups, ld, dst] = [0, 1, 2, 3, 4].map((i) => c.param(i, 'i32'));
  const p = c.local('i32'), r = c.local('i32'), v = c.local('v128'), lo = c.local('v128'), hi = c.local('v128');
  c.loop((nextGroup) => {
    c.v128Const([0, 0, 0, 0]).set(lo).v128Const([0, 0, 0, 0]).set(hi);
    c.get(src).set(p).get(rows).set(r);
    c.loop((nextRow) => {
      c.get(p).v128Load(0, 2).set(v);
      c.get(lo).get(v).f64x2PromoteLowF32x4().f64x2Add().set(lo);
      c.get(hi).get(v).get(v).f32x4Shuffle(2, 3, 0, 1).f64x2PromoteLowF32x4().f64x2Add().set(hi);
      addTo(c, p, ld);
      c.get(r).i32Const(1).i32Sub().tee(r).brIf(nextRow);
    });
    c.get(dst).get(lo).f32x4DemoteF64x2Zero().get(hi).f32x4DemoteF64x2Zero().f32x4Shuffle(0, 1, 4, 5).v128Store(0, 2);
    c.get(src).i32Const(16).i32Add().set(src);
    c.get(dst).i32Const(16).i32Add().set(dst);
    c.get(groups).i32Const(1).i32Sub().tee(groups).brIf(nextGroup);
  });
}

/**
 * `epilogue(c, ldc, rows, n, bias, relu)`: linear's bias add (and relu when `relu` is not 0)
 * over `rows` rows of C (`ldc` bytes apart) and `n` columns (a multiple of 4, C's padding
 * included), `bias` n floats: done in place while C is still in cache, before the copy out.
 */
function epilogue(c: Code): void {
  const [cp, ldc, rows, n, bias, relu] = [0, 1, 2, 3, 4, 5].map((i) => c.param(i, 'i32'));
  const p = c.local('i32'), bp = c.local('i32'), j = c.local('i32'), v = c.local('v128');
  const columns = (withRelu: boolean) => c.loop((next) => {
    c.get(p).get(p).v128Load().get(bp).v128Load().f32x4Add().set(v);
    // F.relu's select(v <= 0, 0, v): clears the lanes where v <= 0, so a NaN stays NaN
    if (withRelu) c.get(v).get(v).v128Const([0, 0, 0, 0]).f32x4Le().v128AndNot().set(v);
    c.get(v).v128Store();
    c.get(p).i32Const(16).i32Add().set(p);
    c.get(bp).i32Const(16).i32Add().set(bp);
    c.get(j).i32Const(4).i32Sub().tee(j).brIf(next);
  });
  c.loop((nextRow) => {
    c.get(cp).set(p).get(bias).set(bp).get(n).set(j);
    c.get(relu).if(() => columns(true));
    c.get(relu).i32Eqz().if(() => columns(false));
    addTo(c, cp, ldc);
    c.get(rows).i32Const(1).i32Sub().tee(rows).brIf(nextRow);
  });
}

/** x += y */
const addTo = (c: Code, x: Local<'i32'>, y: Local<'i32'>) => c.get(x).get(y).i32Add().set(x);

/** The body of `kernel`: the only code that runs at full rate, so it is kept to loads, mul, add. */
function microKernel(c: Code, { mr, nr, unroll, fma }: Tile): void {
  const [a, b, cc, kc, ldc, accumulate] = [0, 1, 2, 3, 4, 5].map((i) => c.param(i, 'i32'));
  const nv = nr / 4;
  const acc = Array.from({ length: mr }, () => Array.from({ length: nv }, () => c.local('v128')));
  const bv = Array.from({ length: nv }, () => c.local('v128'));
  const av = c.local('v128');
  const row = c.local('i32');

  // kc is a positive multiple of `unroll` (the packers pad k with zeros): no remainder loop
  c.loop((top) => {
    for (let u = 0; u < unroll; u++) {
      // constant offsets in the load instructions: one pointer bump per loop body
      for (let q = 0; q < nv; q++) c.get(b).v128Load((u * nr + 4 * q) * 4).set(bv[q]);
      for (let r = 0; r < mr; r++) {
        c.get(a).v128Load32Splat((u * mr + r) * 4).set(av);
        // no fused multiply-add in baseline SIMD: mul then add, summing in float32 (the JS
        // kernel sums in float64, so the two agree within float32 rounding of the sum)
        if (fma) for (let q = 0; q < nv; q++) c.get(av).get(bv[q]).get(acc[r][q]).f32x4RelaxedMadd().set(acc[r][q]);
        else for (let q = 0; q < nv; q++) c.get(acc[r][q]).get(av).get(bv[q]).f32x4Mul().f32x4Add().set(acc[r][q]);
      }
    }
    c.get(a).i32Const(unroll * mr * 4).i32Add().set(a);
    c.get(b).i32Const(unroll * nr * 4).i32Add().set(b);
    c.get(kc).i32Const(unroll).i32Sub().tee(kc).brIf(top);
  });

  // accumulate: a later k block adds to what the earlier ones left in C
  c.get(accumulate).if(() => {
    c.get(cc).set(row);
    for (let r = 0; r < mr; r++) {
      for (let q = 0; q < nv; q++) c.get(acc[r][q]).get(row).v128Load(16 * q).f32x4Add().set(acc[r][q]);
      if (r + 1 < mr) addTo(c, row, ldc);
    }
  });
  c.get(cc).set(row);
  for (let r = 0; r < mr; r++) {
    for (let q = 0; q < nv; q++) c.get(row).get(acc[r][q]).v128Store(16 * q);
    if (r + 1 < mr) addTo(c, row, ldc);
  }
}

const PACK_PARAMS = ['i32', 'i32', 'i32', 'i32', 'i32', 'i32', 'i32'] as const;

/**
 * `pack(src, sx, sk, count, kc, kcPad, dst)`: copy a count x kc block (`sx` bytes between its
 * rows, `sk` along k) into panels of `w` rows, zero-filling k from kc to kcPad. In wasm, not
 * JS, because a JS typed-array loop costs a few ns an element here, as much as a third of
 * the multiply for the MLP's shapes. A whole panel takes
 * a vector path when either stride is one float: rows adjacent (B row-major, A transposed) is
 * a plain copy; k adjacent (A row-major, B = W^T in a linear layer) is 4 x 4 transposes.
 */
function packer(c: Code, w: number): void {
  const [src, sx, sk, count, kc, kcPad, dst] = [0, 1, 2, 3, 4, 5, 6].map((i) => c.param(i, 'i32'));
  const rows = c.local('i32'), r = c.local('i32'), s = c.local('i32'), d = c.local('i32'), p = c.local('i32');
  const p0 = c.local('i32'), panelBytes = c.local('i32');
  const sRow = [0, 1, 2, 3].map(() => c.local('i32'));
  const v = [0, 1, 2, 3, 4, 5, 6, 7].map(() => c.local('v128'));
  c.get(kcPad).i32Const(w * 4).i32Mul().set(panelBytes);

  // rows 0 .. rows - 1, k from p0 to kc, one float at a time
  const scalarRows = () => {
    c.get(p0).get(kc).i32LtU().if(() => {
      c.i32Const(0).set(r);
      c.loop((nextRow) => {
        c.get(src).get(r).get(sx).i32Mul().i32Add().get(p0).get(sk).i32Mul().i32Add().set(s);
        c.get(dst).get(r).i32Const(4).i32Mul().i32Add().get(p0).i32Const(w * 4).i32Mul().i32Add().set(d);
        c.get(kc).get(p0).i32Sub().set(p);
        c.loop((nextK) => {
          c.get(d).get(s).f32Load().f32Store();
          addTo(c, s, sk);
          c.get(d).i32Const(w * 4).i32Add().set(d);
          c.get(p).i32Const(1).i32Sub().tee(p).brIf(nextK);
        });
        c.get(r).i32Const(1).i32Add().tee(r).get(rows).i32LtU().brIf(nextRow);
      });
    });
  };

  // rows adjacent: each k step is w / 4 vector copies
  const copyPanel = () => {
    c.get(src).set(s).get(dst).set(d).get(kc).set(p);
    c.loop((nextK) => {
      for (let q = 0; q < w / 4; q++) c.get(d).get(s).v128Load(16 * q, 2).v128Store(16 * q);
      addTo(c, s, sk);
      c.get(d).i32Const(w * 4).i32Add().set(d);
      c.get(p).i32Const(1).i32Sub().tee(p).brIf(nextK);
    });
  };

  // k adjacent: per group of 4 rows, load 4 k values of each, transpose, store 4 k steps;
  // the k % 4 tail is left to scalarRows from p0
  const transposePanel = () => {
    c.get(kc).i32Const(-4).i32And().set(p0);
    c.get(p0).if(() => {
      for (let g = 0; g < w / 4; g++) {
        for (let i = 0; i < 4; i++) c.get(src).get(sx).i32Const(4 * g + i).i32Mul().i32Add().set(sRow[i]);
        c.get(dst).i32Const(16 * g).i32Add().set(d);
        c.get(p0).set(p);
        c.loop((nextK) => {
          for (let i = 0; i < 4; i++) c.get(sRow[i]).v128Load(0, 2).set(v[i]);
          // unpcklps / unpckhps, then movlhps / movhlps: rows (a, b, c, d) become k steps
          c.get(v[0]).get(v[1]).f32x4Shuffle(0, 4, 1, 5).set(v[4]);
          c.get(v[2]).get(v[3]).f32x4Shuffle(0, 4, 1, 5).set(v[5]);
          c.get(v[0]).get(v[1]).f32x4Shuffle(2, 6, 3, 7).set(v[6]);
          c.get(v[2]).get(v[3]).f32x4Shuffle(2, 6, 3, 7).set(v[7]);
          c.get(d).get(v[4]).get(v[5]).f32x4Shuffle(0, 1, 4, 5).v128Store(0);
          c.get(d).get(v[4]).get(v[5]).f32x4Shuffle(2, 3, 6, 7).v128Store(w * 4);
          c.get(d).get(v[6]).get(v[7]).f32x4Shuffle(0, 1, 4, 5).v128Store(2 * w * 4);
          c.get(d).get(v[6]).get(v[7]).f32x4Shuffle(2, 3, 6, 7).v128Store(3 * w * 4);
          for (let i = 0; i < 4; i++) c.get(sRow[i]).i32Const(16).i32Add().set(sRow[i]);
          c.get(d).i32Const(4 * w * 4).i32Add().set(d);
          c.get(p).i32Const(4).i32Sub().tee(p).brIf(nextK);
        });
      }
    });
    scalarRows();
  };

  c.loop((nextPanel) => {
    c.get(count).i32Const(w).get(count).i32Const(w).i32LtU().select().set(rows);
    c.i32Const(0).set(p0);
    c.block((done) => {
      if (w % 4 === 0) {
        c.get(rows).i32Const(w).i32Eq().if(() => {
          c.get(sx).i32Const(4).i32Eq().if(() => {
            copyPanel();
            c.br(done);
          });
          c.get(sk).i32Const(4).i32Eq().if(() => {
            transposePanel();
            c.br(done);
          });
        });
      }
      // a partial panel's missing rows keep leftovers: they reach only C's padding, never copied out
      scalarRows();
    });
    // zeros from kc to kcPad, so the kernel's unrolled k loop adds nothing there (none to write
    // at unroll 1, and V8 runs memory.fill as a call out of the wasm code even for no bytes)
    c.get(kcPad).get(kc).i32Ne().if(() => {
      c.get(dst).get(kc).i32Const(w * 4).i32Mul().i32Add().i32Const(0).get(kcPad).get(kc).i32Sub().i32Const(w * 4).i32Mul().memoryFill();
    });
    c.get(src).get(sx).i32Const(w).i32Mul().i32Add().set(src);
    addTo(c, dst, panelBytes);
    c.get(count).i32Const(w).i32Sub().tee(count).i32Const(0).i32GtS().brIf(nextPanel);
  });
}
