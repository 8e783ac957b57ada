// Link, Chain, ChainList and Parameter: models as trees of named, trainable parameters.

import { backendOf } from '../array/backend.js';
import { NDArray, TYPED, type DType, type Device } from '../array/ndarray.js';
import { pin } from '../array/pin.js';
import { Variable } from '../graph/variable.js';
import type { Serializer } from '../serializers/serializer.js';
import type { Initializer } from './initializers.js';

/**
 * Data a parameter made for itself (an initializer's, a load's, a move's), as it keeps it:
 * long-lived (pin) and, on the CPU, in the WebAssembly memory where products and SGD read and
 * update it in place (Backend.resident). An array the caller passed in stays that very array.
 */
const keep = (x: NDArray): NDArray => pin(backendOf(x.device).resident?.(x) ?? x);

/**
 * A trainable array. It may be created without data and initialised on first use, when
 * the input size becomes known (`new Linear(null, 100)`).
 */
export class Parameter extends Variable {
  private pending: { init: Initializer; dtype: DType } | null = null;

  constructor(init: NDArray | Initializer, shape?: readonly number[], opts: { name?: string; dtype?: DType } = {}) {
    const dtype = opts.dtype ?? 'float32';
    const data = init instanceof NDArray ? init : shape !== undefined ? keep(init(shape, dtype)) : new NDArray(new Float32Array(0), [0]);
    super(data, { name: opts.name, requiresGrad: true });
    if (!(init instanceof NDArray) && shape === undefined) this.pending = { init, dtype };
  }

  /** Where the data goes when a deferred parameter is initialised. */
  private targetDevice: Device = 'cpu';

  get isInitialized(): boolean { return this.pending === null; }

  /** Allocate the data with the initializer given at construction. */
  initialize(shape: readonly number[]): void {
    if (this.pending === null) return;
    this.data = keep(this.pending.init(shape, this.pending.dtype).to(this.targetDevice));
    this.pending = null;
  }

  /** The device the data lives on, or will live on once a deferred parameter is initialised. */
  get device(): Device { return this.isInitialized ? this.data.device : this.targetDevice; }

  /**
   * Replace the data with `x` (a loaded CPU array), on this parameter's device and in its
   * dtype; a deferred parameter becomes initialised with `x`'s shape (what a load does).
   */
  loadData(x: NDArray): void {
    const dtype = this.pending?.dtype ?? this.data.dtype;
    const cast = x.dtype === dtype ? x : new NDArray(new TYPED[dtype](x.toFlat()), x.shape.slice());
    this.data = keep(cast.to(this.device));
    this.pending = null;
  }

  override toGpu(): this {
    this.targetDevice = 'webgpu';
    if (!this.isInitialized) return this;
    super.toGpu();
    pin(this.data);
    return this;
  }

  override async toCpu(): Promise<this> {
    this.targetDevice = 'cpu';
    if (!this.isInitialized) return this;
    const moved = this.data.device !== 'cpu';
    await super.toCpu();
    if (moved) this.data = keep(this.data);
    return this;
  }
}

/**
 * The own fields of `obj` that hold a `type`, with their names, in declaration order: keys,
 * not entries, so one array a walk rather than a pair a field (every step walks every link twice).
 */
function* fieldsOf<T>(obj: object, type: abstract new (...args: never[]) => T): Generator<[string, T]> {
  const fields = obj as Record<string, unknown>;
  for (const k of Object.keys(fields)) {
    const v = fields[k];
    if (v instanceof type) yield [k, v];
  }
}

/**
 * The base of models. Parameters, persistent arrays and child links are found by walking
 * the object's own fields in declaration order, so a subclass simply assigns them:
 *
 * ```ts
 * class MLP extends Chain {
 *   l1 = new L.Linear(null, 100);
 *   l2 = new L.Linear(100, 10);
 *   forward(x: Variable) { return this.l2.forward(F.relu(this.l1.forward(x))); }
 * }
 * ```
 */
export class Link {
  name = '';

  /** Parameters of this link only (not of children), with their field names. */
  protected *ownParams(): Generator<[string, Parameter]> {
    yield* fieldsOf(this, Parameter);
  }

  /** Child links, with their names. */
  *children(): Generator<[string, Link]> {}

  /**
   * Every parameter below this link, named by path ('/l1/W'). A parameter reachable through
   * two fields (weight tying) is listed once, under the first path, so it is updated once.
   */
  *namedParams(): Generator<[string, Parameter]> {
    const seen = new Set<Parameter>();
    for (const [path, link] of this.namedLinks()) {
      for (const [k, p] of link.ownParams()) {
        if (seen.has(p)) continue;
        seen.add(p);
        yield [`${path === '/' ? '' : path}/${k}`, p];
      }
    }
  }

  /** Every parameter below this link, once each, in namedParams' order. */
  *params(): Generator<Parameter> {
    yield* this.paramList();
  }

  /**
   * @internal params() as an array, walked without namedParams' path strings: every step
   * walks the model twice (cleargrads, then the optimizer's update), and the names were about
   * a third of the JS garbage of an MLP's training step.
   */
  paramList(): Parameter[] {
    const out: Parameter[] = [];
    const seen = new Set<Parameter>();
    for (const [, link] of this.linkWalk(false)) {
      for (const [, p] of link.ownParams()) {
        if (seen.has(p)) continue;
        seen.add(p);
        out.push(p);
      }
    }
    return out;
  }

  /**
   * Every link below and including this one, named by path, depth first in field order;
   * a link shared by two fields is listed once. A link that contains itself (a field
   * pointing back at the chain or one of its parents) is an error, not endless recursion.
   */
  *namedLinks(): Generator<[string, Link]> {
    yield* this.linkWalk(true);
  }

  /** namedLinks' walk; without `named`, every path is '' (paramList needs only the links). */
  private linkWalk(named: boolean): [string, Link][] {
    const out: [string, Link][] = [[named ? '/' : '', this]];
    const seen = new Set<Link>([this]);
    // an explicit stack: a deep model must not be limited by the call stack
    const stack: { path: string; link: Link; children: Iterator<[string, Link]> }[] = [{ path: '', link: this, children: this.children()[Symbol.iterator]() }];
    while (stack.length > 0) {
      const top = stack[stack.length - 1];
      const next = top.children.next();
      if (next.done) { stack.pop(); continue; }
      const [name, child] = next.value;
      const path = named ? `${top.path}/${name}` : '';
      const ancestor = stack.find((f) => f.link === child);
      if (ancestor !== undefined) {
        // the names are built only for the error: the named walk meets the same link first
        if (!named) this.linkWalk(true);
        throw new Error(`${this.constructor.name}: the link at ${path} is its own ancestor (the link at ${ancestor.path || '/'}); a Chain cannot contain itself or a parent`);
      }
      if (seen.has(child)) continue;
      seen.add(child);
      out.push([path, child]);
      stack.push({ path, link: child, children: child.children()[Symbol.iterator]() });
    }
    return out;
  }

  /** Forget every parameter's gradient (call before each backward). */
  cleargrads(): void {
    for (const p of this.paramList()) p.cleargrad();
  }

  /** Persistent (non-trainable) arrays such as batch-norm statistics, by field name. */
  persistents: Set<string> = new Set();

  /** Register a field as persistent state that serializers save. */
  addPersistent(name: string, value: NDArray | number): void {
    (this as unknown as Record<string, unknown>)[name] = value;
    this.persistents.add(name);
  }

  /** Move every parameter and persistent array below this link to the GPU; returns this. */
  toGpu(): this {
    for (const p of this.params()) p.toGpu();
    for (const [, link] of this.namedLinks()) link.movePersistents((x) => x.toGpu());
    return this;
  }

  /** Move every parameter and persistent array below this link to the CPU. */
  async toCpu(): Promise<this> {
    for (const p of this.params()) await p.toCpu();
    for (const [, link] of this.namedLinks()) {
      const fields = link as unknown as Record<string, unknown>;
      for (const name of link.persistents) {
        const v = fields[name];
        if (v instanceof NDArray) fields[name] = await v.toCpu();
      }
    }
    return this;
  }

  private movePersistents(move: (x: NDArray) => NDArray): void {
    const fields = this as unknown as Record<string, unknown>;
    for (const name of this.persistents) {
      const v = fields[name];
      if (v instanceof NDArray) fields[name] = move(v);
    }
  }

  /**
   * Save or load this link's state (Chainer's Link.serialize): each parameter and persistent
   * under its field name, each child link under its name (`l1/W`, `predictor/l1/b`, `0/W`).
   * A parameter not yet initialised has no data and is not saved (Chainer stores None, which
   * numpy cannot read without pickle); a load initialises it with the stored shape.
   */
  serialize(serializer: Serializer): void {
    for (const [k, p] of this.ownParams()) {
      if (!serializer.loading && !p.isInitialized) continue;
      serializer.array(k, p.isInitialized ? p.data : null, (x) => p.loadData(x));
    }
    const fields = this as unknown as Record<string, unknown>;
    for (const name of this.persistents) {
      const v = fields[name];
      if (v instanceof NDArray) serializer.array(name, v, (x) => { fields[name] = v.device === 'cpu' ? x : pin(x.to(v.device)); });
      else if (typeof v === 'number') serializer.number(name, v, (x) => { fields[name] = x; });
      else throw new Error(`${this.constructor.name}.serialize: persistent '${name}' is neither an NDArray nor a number`);
    }
    for (const [name, child] of this.children()) child.serialize(serializer.child(name));
  }

  /** How many scalars the parameters hold. */
  countParams(): number {
    let n = 0;
    for (const p of this.params()) n += p.size;
    return n;
  }
}

/** A Link whose Link-valued fields are its children. */
export class Chain extends Link {
  override *children(): Generator<[string, Link]> {
    yield* fieldsOf(this, Link);
  }
}

/** A list of links, named '0', '1', ... */
export class ChainList<T extends Link = Link> extends Link {
  private readonly items: T[] = [];

  constructor(...links: T[]) {
    super();
    links.forEach((l) => this.append(l));
  }

  append(link: T): void {
    link.name = String(this.items.length);
    this.items.push(link);
  }

  at(i: number): T {
    const item = this.items[i < 0 ? i + this.items.length : i];
    if (item === undefined) throw new Error(`ChainList: index ${i} out of range for ${this.items.length} links`);
    return item;
  }

  get length(): number { return this.items.length; }

  [Symbol.iterator](): Iterator<T> { return this.items[Symbol.iterator](); }

  override *children(): Generator<[string, Link]> {
    for (let i = 0; i < this.items.length; i++) yield [String(i), this.items[i]];
  }
}
