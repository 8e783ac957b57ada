// WebAssembly binary encoder: LEB128, the few sections a kernel module needs, and a typed
// instruction builder (core i32/f32 plus the SIMD opcodes), so kernels are generated with no
// assembler and no dependency.

/** Value types, by their binary code. */
export const VALTYPE = { i32: 0x7f, i64: 0x7e, f32: 0x7d, f64: 0x7c, v128: 0x7b } as const;
export type ValType = keyof typeof VALTYPE;

/** Unsigned LEB128: 7 bits a byte, low first, high bit set on all but the last. */
export function uleb(n: number): number[] {
  if (!Number.isInteger(n) || n < 0 || n > 0xffffffff) throw new Error(`uleb: ${n} is not a u32`);
  const out: number[] = [];
  do {
    let byte = n & 0x7f;
    n = Math.floor(n / 128); // not >>>: n may use all 32 bits
    if (n !== 0) byte |= 0x80;
    out.push(byte);
  } while (n !== 0);
  return out;
}

/** Signed LEB128 of an i32: stop once the rest is pure sign extension of the last byte's bit 6. */
export function sleb(n: number): number[] {
  if (!Number.isInteger(n) || n < -0x80000000 || n > 0xffffffff) throw new Error(`sleb: ${n} is not an i32`);
  n |= 0; // constants above 2^31 - 1 are written as their i32 bit pattern
  const out: number[] = [];
  for (;;) {
    const byte = n & 0x7f;
    n >>= 7;
    if ((n === 0 && (byte & 0x40) === 0) || (n === -1 && (byte & 0x40) !== 0)) {
      out.push(byte);
      return out;
    }
    out.push(byte | 0x80);
  }
}

/** A length-prefixed UTF-8 name. */
export function name(s: string): number[] {
  const bytes = [...new TextEncoder().encode(s)];
  return [...uleb(bytes.length), ...bytes];
}

/** A vector: its count, then its items. */
function vec(items: readonly number[][]): number[] {
  return [...uleb(items.length), ...items.flat()];
}

/** A section: its id, its byte size, its contents. */
function section(id: number, contents: number[]): number[] {
  return [id, ...uleb(contents.length), ...contents];
}

/** A local (parameters first, then declared locals), typed so `v128` values cannot be fed to `i32` ops by mistake at the call site. */
export interface Local<T extends ValType = ValType> {
  readonly index: number;
  readonly type: T;
}

/** A branch target: blocks branch to their end, loops to their start. */
export interface Label {
  readonly depth: number;
}

/**
 * Instructions of one function body. Each method appends one instruction; structured
 * control takes a callback so labels are objects and branch depths are computed, not counted.
 * Operand order is the stack order: push operands, then call the op.
 */
export class Code {
  readonly bytes: number[] = [];
  private readonly localTypes: ValType[] = [];
  private depth = 0;

  constructor(readonly params: readonly ValType[]) {}

  /** A new local of `type`, zero-initialised by WebAssembly. */
  local<T extends ValType>(type: T): Local<T> {
    this.localTypes.push(type);
    return { index: this.params.length + this.localTypes.length - 1, type };
  }

  /** Parameter `i` as a local. */
  param<T extends ValType>(i: number, type: T): Local<T> {
    if (this.params[i] !== type) throw new Error(`param ${i} is ${this.params[i]}, not ${type}`);
    return { index: i, type };
  }

  /** The encoded body: locals grouped in runs of one type, then the code and `end`. */
  encode(): number[] {
    const runs: number[][] = [];
    for (let i = 0; i < this.localTypes.length; ) {
      let j = i;
      while (j < this.localTypes.length && this.localTypes[j] === this.localTypes[i]) j++;
      runs.push([...uleb(j - i), VALTYPE[this.localTypes[i]]]);
      i = j;
    }
    if (this.depth !== 0) throw new Error('unclosed block');
    return [...vec(runs), ...this.bytes, 0x0b];
  }

  private op(...bytes: number[]): this {
    this.bytes.push(...bytes);
    return this;
  }

  // ---- locals and constants -------------------------------------------------------------
  get(l: Local): this { return this.op(0x20, ...uleb(l.index)); }
  set(l: Local): this { return this.op(0x21, ...uleb(l.index)); }
  tee(l: Local): this { return this.op(0x22, ...uleb(l.index)); }
  i32Const(v: number): this { return this.op(0x41, ...sleb(v)); }
  f32Const(v: number): this {
    const b = new Uint8Array(new Float32Array([v]).buffer);
    return this.op(0x43, ...b);
  }

  // ---- control ---------------------------------------------------------------------------
  /** `block ... end`; branching to its label jumps past the end. */
  block(body: (exit: Label) => void): this { return this.structured(0x02, body); }
  /** `loop ... end`; branching to its label jumps back to the top. */
  loop(body: (top: Label) => void): this { return this.structured(0x03, body); }
  /** `if ... end` on the i32 on the stack. */
  if(body: (exit: Label) => void): this { return this.structured(0x04, body); }
  br(l: Label): this { return this.op(0x0c, ...uleb(this.depth - l.depth)); }
  brIf(l: Label): this { return this.op(0x0d, ...uleb(this.depth - l.depth)); }
  call(funcIndex: number): this { return this.op(0x10, ...uleb(funcIndex)); }
  drop(): this { return this.op(0x1a); }
  /** Pops a, b, c and pushes `c !== 0 ? a : b`. */
  select(): this { return this.op(0x1b); }

  private structured(opcode: number, body: (l: Label) => void): this {
    this.op(opcode, 0x40); // 0x40: the block takes and leaves nothing on the stack
    const label = { depth: ++this.depth };
    body(label);
    this.depth--;
    return this.op(0x0b);
  }

  // ---- i32 / f32 arithmetic --------------------------------------------------------------
  i32Eqz(): this { return this.op(0x45); }
  i32Eq(): this { return this.op(0x46); }
  i32Ne(): this { return this.op(0x47); }
  i32LtS(): this { return this.op(0x48); }
  i32LtU(): this { return this.op(0x49); }
  i32GtU(): this { return this.op(0x4b); }
  i32GtS(): this { return this.op(0x4a); }
  i32GeS(): this { return this.op(0x4e); }
  i32Add(): this { return this.op(0x6a); }
  i32Sub(): this { return this.op(0x6b); }
  i32Mul(): this { return this.op(0x6c); }
  i32And(): this { return this.op(0x71); }
  i32Or(): this { return this.op(0x72); }
  i32Shl(): this { return this.op(0x74); }
  i32ShrU(): this { return this.op(0x76); }
  f32Add(): this { return this.op(0x92); }
  f32Sub(): this { return this.op(0x93); }
  f32Mul(): this { return this.op(0x94); }
  f32Div(): this { return this.op(0x95); }
  /** f32.min / f32.max: NaN if either operand is NaN, and -0 < +0 (as Math.min / Math.max) */
  f32Min(): this { return this.op(0x96); }
  f32Max(): this { return this.op(0x97); }
  f32Abs(): this { return this.op(0x8b); }
  f32Neg(): this { return this.op(0x8c); }
  f32Sqrt(): this { return this.op(0x91); }
  /** f32 comparisons push an i32 (1 or 0); every comparison with NaN is 0 but `ne`, which is 1 */
  f32Eq(): this { return this.op(0x5b); }
  f32Ne(): this { return this.op(0x5c); }
  f32Lt(): this { return this.op(0x5d); }
  f32Gt(): this { return this.op(0x5e); }
  f32Le(): this { return this.op(0x5f); }
  f32Ge(): this { return this.op(0x60); }
  f32ConvertI32U(): this { return this.op(0xb3); }

  // ---- memory: `align` is log2 of the promised alignment, `offset` a constant byte offset --
  i32Load(offset = 0, align = 2): this { return this.op(0x28, ...uleb(align), ...uleb(offset)); }
  f32Load(offset = 0, align = 2): this { return this.op(0x2a, ...uleb(align), ...uleb(offset)); }
  i32Store(offset = 0, align = 2): this { return this.op(0x36, ...uleb(align), ...uleb(offset)); }
  f32Store(offset = 0, align = 2): this { return this.op(0x38, ...uleb(align), ...uleb(offset)); }

  /** Bulk memory (prefix 0xfc): pops dst, byte value, length; sets that many bytes. */
  memoryFill(): this { return this.op(0xfc, ...uleb(0x0b), 0x00); }
  /** Bulk memory: pops dst, src, length; copies that many bytes as memmove does (overlap allowed). */
  memoryCopy(): this { return this.op(0xfc, ...uleb(0x0a), 0x00, 0x00); }

  // ---- SIMD: prefix 0xfd, then the sub-opcode as a u32 LEB128 (0xe4 is two bytes) ---------
  private simd(sub: number, ...imm: number[]): this { return this.op(0xfd, ...uleb(sub), ...imm); }
  v128Load(offset = 0, align = 4): this { return this.simd(0x00, ...uleb(align), ...uleb(offset)); }
  /** One f32 from memory into all four lanes: a single broadcast load on x86. */
  v128Load32Splat(offset = 0, align = 2): this { return this.simd(0x09, ...uleb(align), ...uleb(offset)); }
  v128Store(offset = 0, align = 4): this { return this.simd(0x0b, ...uleb(align), ...uleb(offset)); }
  v128Const(lanes: readonly [number, number, number, number]): this {
    return this.simd(0x0c, ...new Uint8Array(new Float32Array(lanes).buffer));
  }
  /** Pops a, b; lane i of the result is byte lanes[i] of the 32 bytes a ++ b. */
  i8x16Shuffle(lanes: readonly number[]): this {
    if (lanes.length !== 16 || lanes.some((l) => !Number.isInteger(l) || l < 0 || l > 31)) throw new Error(`i8x16Shuffle: bad lanes ${lanes}`);
    return this.simd(0x0d, ...lanes);
  }
  /** i8x16.shuffle by whole f32 lanes (0-3 from a, 4-7 from b), the form V8 maps to one unpck/shufps. */
  f32x4Shuffle(l0: number, l1: number, l2: number, l3: number): this {
    return this.i8x16Shuffle([l0, l1, l2, l3].flatMap((l) => [4 * l, 4 * l + 1, 4 * l + 2, 4 * l + 3]));
  }
  f32x4Splat(): this { return this.simd(0x13); }
  f32x4ExtractLane(lane: 0 | 1 | 2 | 3): this { return this.simd(0x1f, lane); }
  f32x4Add(): this { return this.simd(0xe4); }
  f32x4Sub(): this { return this.simd(0xe5); }
  f32x4Mul(): this { return this.simd(0xe6); }
  /** Relaxed SIMD's a * b + c: one fused multiply-add where the hardware has it (x86 FMA3, ARM), else mul then add. */
  f32x4RelaxedMadd(): this { return this.simd(0x105); }
  f32x4Div(): this { return this.simd(0xe7); }
  /** f32x4.min / max propagate NaN like Math.min / max (pmin / pmax, not encoded here, do not) */
  f32x4Min(): this { return this.simd(0xe8); }
  f32x4Max(): this { return this.simd(0xe9); }
  f32x4Abs(): this { return this.simd(0xe0); }
  f32x4Neg(): this { return this.simd(0xe1); }
  f32x4Sqrt(): this { return this.simd(0xe3); }
  /** Lane-wise comparisons give all-ones / all-zeros lane masks. */
  f32x4Eq(): this { return this.simd(0x41); }
  f32x4Ne(): this { return this.simd(0x42); }
  f32x4Lt(): this { return this.simd(0x43); }
  f32x4Gt(): this { return this.simd(0x44); }
  f32x4Le(): this { return this.simd(0x45); }
  f32x4Ge(): this { return this.simd(0x46); }
  v128And(): this { return this.simd(0x4e); }
  v128Or(): this { return this.simd(0x50); }
  /** Pops a, b, mask; each bit comes from a where the mask bit is 1, else from b. */
  v128Bitselect(): this { return this.simd(0x52); }
  v128Not(): this { return this.simd(0x4d); }
  /** Pops a, b; a & ~b. */
  v128AndNot(): this { return this.simd(0x4f); }
  v128Xor(): this { return this.simd(0x51); }
  /** v128.const from four i32 lanes (bit patterns). */
  v128ConstI32(lanes: readonly [number, number, number, number]): this {
    return this.simd(0x0c, ...new Uint8Array(new Int32Array(lanes).buffer));
  }
  /** f64x2 lanes: the low two f32 lanes widened (exact), a lane-wise sum, and both back to f32 in lanes 0-1 (2-3 zero). */
  f64x2PromoteLowF32x4(): this { return this.simd(0x5f); }
  f64x2Add(): this { return this.simd(0xf0); }
  f32x4DemoteF64x2Zero(): this { return this.simd(0x5e); }
  /** Round to the nearest integer, ties to even, in each lane (exact for every float32). */
  f32x4Nearest(): this { return this.simd(0x6a); }
  /** Integer lanes: float -> int32 truncating and saturating (NaN to 0), int32 -> float. */
  i32x4TruncSatF32x4S(): this { return this.simd(0xf8); }
  f32x4ConvertI32x4S(): this { return this.simd(0xfa); }
  i32x4Add(): this { return this.simd(0xae); }
  i32x4Sub(): this { return this.simd(0xb1); }
  /** Shifts pop the vector, then an i32 count. */
  i32x4Shl(): this { return this.simd(0xab); }
  i32x4ShrS(): this { return this.simd(0xac); }
  i32x4ShrU(): this { return this.simd(0xad); }
}

/** A function of the module; its index is its position, so later functions can call earlier ones. */
export interface Func {
  readonly params: readonly ValType[];
  readonly results: readonly ValType[];
  /** exported under this name when given */
  readonly export?: string;
  readonly code: Code;
}

/** The imported memory's limits: `sharedMaxPages` makes it a shared memory (threads) of at most that many 64 KiB pages. */
export interface ModuleMemory {
  readonly minPages: number;
  readonly sharedMaxPages?: number;
}

/**
 * A module that imports its memory as `env.memory` (so the host owns it, grows it and views
 * it as a Float32Array) and defines `funcs`. Signatures are deduplicated into the type section.
 */
export function encodeModule(funcs: readonly Func[], memory: ModuleMemory = { minPages: 1 }): Uint8Array<ArrayBuffer> {
  const sigs: string[] = [];
  const sigOf = (f: Func) => {
    const key = `${f.params.join(',')}->${f.results.join(',')}`;
    if (!sigs.includes(key)) sigs.push(key);
    return sigs.indexOf(key);
  };
  const typeIdx = funcs.map(sigOf);
  const types = sigs.map((_, i) => {
    const f = funcs[typeIdx.indexOf(i)];
    return [0x60, ...vec(f.params.map((t) => [VALTYPE[t]])), ...vec(f.results.map((t) => [VALTYPE[t]]))];
  });
  // limits flag 0x00: a minimum and no maximum, so the host may grow it freely; 0x03: shared,
  // which needs a maximum (a shared memory cannot move, so its whole range is reserved up front)
  const limits = memory.sharedMaxPages === undefined ? [0x00, ...uleb(memory.minPages)] : [0x03, ...uleb(memory.minPages), ...uleb(memory.sharedMaxPages)];
  const imports = [[...name('env'), ...name('memory'), 0x02, ...limits]];
  const exports = funcs.flatMap((f, i) => (f.export === undefined ? [] : [[...name(f.export), 0x00, ...uleb(i)]]));
  const bodies = funcs.map((f) => {
    const body = f.code.encode();
    return [...uleb(body.length), ...body];
  });
  return new Uint8Array([
    0x00, 0x61, 0x73, 0x6d, 0x01, 0x00, 0x00, 0x00, // "\0asm", version 1
    ...section(1, vec(types)),
    ...section(2, vec(imports)),
    ...section(3, vec(typeIdx.map((t) => uleb(t)))),
    ...section(7, vec(exports)),
    ...section(10, vec(bodies)),
  ]);
}

/** Start a function body with these parameters; pass the result to `encodeModule`. */
export function func(params: readonly ValType[], results: readonly ValType[], build: (c: Code) => void, exportName?: string): Func {
  const code = new Code(params);
  build(code);
  return { params, results, export: exportName, code };
}
