// The blocks of the WebAssembly matmul's memory that outlive a call (CPU parameters): where they lie, which are free, and where the per-call scratch space therefore begins.

/**
 * Blocks are whole cache lines of floats, so the scratch space after them starts on a line, as
 * it did at offset 0, and a SIMD loop over a block's length rounded up to 4 lanes stays inside it.
 */
export const LINE_FLOATS = 16;

/** `x` rounded up to a multiple of `to`. */
export const roundUp = (x: number, to: number): number => Math.ceil(x / to) * to;

/**
 * First-fit blocks in [0, end), in floats. Every call lays out its scratch from `end` on, so a
 * block is never overwritten by a call; freeing the last block moves `end` back down.
 */
export class Arena {
  /** Free gaps below `end`, sorted by offset, no two touching (they are merged). */
  private readonly gaps: { at: number; size: number }[] = [];
  /** Where the blocks end: the scratch space's base. */
  end = 0;

  /** `capacity`: floats the blocks may span in all; past it, alloc refuses (the caller keeps a plain array). */
  constructor(readonly capacity: number) {}

  /** The float offset of a new block of at least `floats`, or undefined when it would not fit under the capacity. */
  alloc(floats: number): number | undefined {
    const size = roundUp(Math.max(floats, 1), LINE_FLOATS);
    const i = this.gaps.findIndex((g) => g.size >= size);
    if (i >= 0) {
      const g = this.gaps[i], at = g.at;
      if (g.size === size) this.gaps.splice(i, 1);
      else {
        g.at += size;
        g.size -= size;
      }
      return at;
    }
    if (this.end + size > this.capacity) return undefined;
    const at = this.end;
    this.end += size;
    return at;
  }

  /** Give back the block alloc(floats) returned at `at`. */
  free(at: number, floats: number): void {
    const size = roundUp(Math.max(floats, 1), LINE_FLOATS);
    let i = this.gaps.findIndex((g) => g.at > at);
    if (i < 0) i = this.gaps.length;
    this.gaps.splice(i, 0, { at, size });
    // merge with the gap after, then with the one before
    const next = this.gaps[i + 1];
    if (next !== undefined && at + size === next.at) {
      this.gaps[i].size += next.size;
      this.gaps.splice(i + 1, 1);
    }
    const prev = this.gaps[i - 1];
    if (prev !== undefined && prev.at + prev.size === at) {
      prev.size += this.gaps[i].size;
      this.gaps.splice(i, 1);
    }
    // a gap that reaches the end is not a gap: the scratch space moves down over it
    const last = this.gaps[this.gaps.length - 1];
    if (last !== undefined && last.at + last.size === this.end) {
      this.end = last.at;
      this.gaps.pop();
    }
  }

  /** Floats held in blocks (tests). */
  get used(): number {
    return this.end - this.gaps.reduce((s, g) => s + g.size, 0);
  }
}
