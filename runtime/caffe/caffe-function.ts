// CaffeFunction: a Caffe model (caffemodel and/or prototxt) as a callable Chain whose parameters are its blobs.

import { asVariable, type Variable, type VariableLike } from '../graph/variable.js';
import { Chain, type Link } from '../links/link.js';
import { readCaffemodel, type CaffeLayer, type CaffeNet, type CaffeInput } from './caffemodel.js';
import { INPUT_TYPES, buildLayer, isSupported, type BuiltLayer } from './layers.js';
import { readPrototxt } from './prototxt.js';
import type { NetStateRule } from './schema.js';

export interface CaffeFunctionOptions {
  /** The deploy net (a path, or the file's bytes): its layers, matched by name to the caffemodel's. */
  prototxt?: string | Uint8Array;
  /** The phase for layers' include/exclude rules (default TEST, as for inference). */
  phase?: 'TRAIN' | 'TEST';
  /** Where warnings go (a skipped layer type); default console.warn. */
  warn?: (message: string) => void;
}

export interface CaffeCallArgs {
  /** Blobs by name: the net's inputs (or any intermediate blob, to start from there). */
  inputs: Readonly<Record<string, VariableLike>>;
  /** The blobs to return, in this order. */
  outputs: readonly string[];
  /** Layer names not to run. */
  disable?: readonly string[];
}

interface Step {
  readonly layer: CaffeLayer;
  /** null: a layer type kusari does not support, skipped with a warning at load. */
  readonly built: BuiltLayer | null;
}

function readBytes(source: string | Uint8Array, what: string): { bytes: Uint8Array; file: string } {
  if (typeof source !== 'string') return { bytes: source, file: what };
  const fs = globalThis.process?.getBuiltinModule?.('node:fs');
  if (fs === undefined) throw new Error(`CaffeFunction: reading ${source} needs Node's fs; pass the file's bytes instead`);
  return { bytes: fs.readFileSync(source), file: source };
}

/** Caffe's StateMeetsRule for a net in `phase` at level 0 with no stages. */
function meets(rule: NetStateRule, phase: 'TRAIN' | 'TEST'): boolean {
  if (rule.phase !== undefined && rule.phase !== phase) return false;
  if (rule.min_level !== undefined && 0 < rule.min_level) return false;
  if (rule.max_level !== undefined && 0 > rule.max_level) return false;
  return (rule.stage ?? []).length === 0;
}

/** Caffe's FilterNet: a layer with include rules needs one met; one with exclude rules needs none met. */
function included(layer: CaffeLayer, phase: 'TRAIN' | 'TEST'): boolean {
  if (layer.include.length > 0 && layer.exclude.length > 0) throw new Error(`${layer.where}: give include or exclude rules, not both`);
  if (layer.include.length > 0) return layer.include.some((r) => meets(r, phase));
  return !layer.exclude.some((r) => meets(r, phase));
}

/** The layers of `structure` with their blobs from `weights`, matched by name (the last match wins, as in CopyTrainedLayersFrom). */
function matchByName(structure: CaffeNet, weights: CaffeNet): CaffeLayer[] {
  const byName = new Map<string, CaffeLayer>();
  for (const l of weights.layers) if (l.blobs.length > 0) byName.set(l.name, l);
  return structure.layers.map((l) => {
    const source = byName.get(l.name);
    return source === undefined ? l : { ...l, blobs: source.blobs };
  });
}

/** The declared shapes of the net's inputs: net-level `input`s and the tops of Input layers. */
function declaredInputs(net: CaffeNet, layers: readonly CaffeLayer[]): CaffeInput[] {
  const out: CaffeInput[] = net.inputs.slice();
  for (const l of layers) {
    if (!INPUT_TYPES.has(l.type)) continue;
    const shapes = l.param.input_param?.shape ?? [];
    l.top.forEach((name, i) => out.push({ name, shape: (shapes.length === 1 ? shapes[0] : shapes[i])?.dim ?? null }));
  }
  return out;
}

export interface CaffeFunction {
  /** Run the net: `const [y] = func({ inputs: { data: x }, outputs: ['prob'] })`. */
  (args: CaffeCallArgs): Variable[];
}

/**
 * A Caffe model as a function, after Chainer's CaffeFunction:
 *
 * ```ts
 * const func = new CaffeFunction('bvlc_reference_caffenet.caffemodel', { prototxt: 'deploy.prototxt' });
 * const [y] = testMode(() => func({ inputs: { data: x }, outputs: ['fc8'] }));
 * ```
 *
 * It is a Chain: each layer with blobs is a child link named after the layer ('/' becomes
 * '_'), holding `W` and `b` (BatchNorm: the persistent `avgMean`, `avgVar`), so optimizers,
 * `toGpu()` and serializers work on it. Layers run with Caffe's semantics; Dropout and
 * BatchNorm follow `config.train` as Chainer's do (wrap inference in `testMode`). A layer
 * type kusari does not support is skipped with a warning; a parameter it does not support
 * is an error naming the layer and the parameter.
 */
export class CaffeFunction extends Chain {
  /** The net as read (from the prototxt when one is given), before phase filtering; its blobs share storage with the parameters. */
  readonly net: CaffeNet;
  /** Declared input blobs and their shapes (null where the net gives none). */
  readonly inputs: readonly CaffeInput[];
  /** The layers of the phase, in order, with whether kusari runs them. */
  readonly layers: readonly { readonly name: string; readonly type: string; readonly bottom: readonly string[]; readonly top: readonly string[]; readonly supported: boolean }[];
  private readonly steps: readonly Step[];
  private readonly links: ReadonlyMap<string, Link>;

  /**
   * `source`: the .caffemodel (a path or its bytes), or null for a net without weights
   * (then `prototxt` is required). Errors name the file and the byte offset or line.
   */
  constructor(source: string | Uint8Array | null, opts: CaffeFunctionOptions = {}) {
    super();
    const warn = opts.warn ?? ((m: string) => console.warn(m));
    const phase = opts.phase ?? 'TEST';
    let weights: CaffeNet | null = null;
    if (source !== null) {
      const { bytes, file } = readBytes(source, 'caffemodel');
      weights = readCaffemodel(bytes, file);
    }
    let structure: CaffeNet;
    if (opts.prototxt !== undefined) {
      const { bytes, file } = readBytes(opts.prototxt, 'prototxt');
      structure = readPrototxt(new TextDecoder().decode(bytes), file);
    } else if (weights !== null) {
      structure = weights;
    } else {
      throw new Error('CaffeFunction: give a caffemodel, a prototxt, or both');
    }
    this.net = structure;
    const layers = (weights !== null && structure !== weights ? matchByName(structure, weights) : structure.layers).filter((l) => included(l, phase));
    const links = new Map<string, Link>();
    this.steps = layers.map((layer): Step => {
      if (!isSupported(layer.type)) {
        warn(`CaffeFunction: skipping layer '${layer.name}' of type ${layer.type || '(none)'}: not supported (${layer.where})`);
        return { layer, built: null };
      }
      const built = buildLayer({ ...layer, type: layer.type });
      if (built.link !== null) {
        const name = layer.name.replace(/\//g, '_');
        if (name === '' || links.has(name)) throw new Error(`${layer.where} (${layer.type}): layer name '${layer.name}' is empty or not unique, so its parameters cannot be named`);
        built.link.name = name;
        links.set(name, built.link);
      }
      return { layer, built };
    });
    this.links = links;
    this.inputs = declaredInputs(structure, layers);
    this.layers = this.steps.map(({ layer, built }) => ({ name: layer.name, type: layer.type, bottom: layer.bottom, top: layer.top, supported: built !== null }));

    // an instance that can be called: a function carrying this object's fields and prototype
    const self = this;
    const callable = function (args: CaffeCallArgs): Variable[] { return self.forwardOn(callable as unknown as CaffeFunction, args); };
    Object.setPrototypeOf(callable, new.target.prototype);
    Object.defineProperty(callable, 'name', { value: this.name, writable: true, enumerable: true, configurable: true });
    Object.assign(callable, this);
    return callable as unknown as CaffeFunction;
  }

  override *children(): Generator<[string, Link]> {
    yield* this.links;
  }

  /** The same as calling the function. */
  forward(args: CaffeCallArgs): Variable[] {
    return this.forwardOn(this, args);
  }

  private forwardOn(self: CaffeFunction, { inputs, outputs, disable = [] }: CaffeCallArgs): Variable[] {
    const values = new Map<string, Variable>();
    for (const [k, v] of Object.entries(inputs)) values.set(k, asVariable(v, 'float32', `CaffeFunction: input '${k}'`));
    const steps = self.steps.filter((s) => !disable.includes(s.layer.name));
    // walk back from the outputs: only the layers they depend on run; a blob given as an
    // input stops the walk unless an in-place layer rewrites it
    const needed = new Set(outputs);
    const run = new Array<boolean>(steps.length).fill(false);
    for (let i = steps.length - 1; i >= 0; i--) {
      const { layer, built } = steps[i];
      const wanted = layer.top.filter((t) => needed.has(t) && (!values.has(t) || layer.bottom.includes(t)));
      if (wanted.length === 0) continue;
      if (built === null) {
        throw new Error(`CaffeFunction: blob '${wanted[0]}' comes from layer '${layer.name}' of type ${layer.type}, which is not supported (skipped at load); give '${wanted[0]}' as an input to start after it`);
      }
      if (INPUT_TYPES.has(layer.type)) {
        const missing = wanted.find((t) => !values.has(t));
        if (missing !== undefined) throw new Error(`CaffeFunction: input '${missing}' (declared by layer '${layer.name}' of type ${layer.type}) was not given in inputs`);
        continue;
      }
      run[i] = true;
      for (const t of layer.top) needed.delete(t);
      for (const b of layer.bottom) needed.add(b);
    }
    for (const b of needed) {
      if (!values.has(b)) {
        const known = [...new Set([...self.inputs.map((x) => x.name), ...steps.flatMap((s) => s.layer.top)])];
        throw new Error(`CaffeFunction: blob '${b}' is neither given in inputs nor produced by a layer (blobs: ${known.join(', ')})`);
      }
    }
    steps.forEach(({ layer, built }, i) => {
      if (!run[i] || built === null) return;
      const ys = built.forward(layer.bottom.map((b) => values.get(b)!));
      if (ys.length !== layer.top.length) throw new Error(`${layer.where} (${layer.type}): produced ${ys.length} blobs for ${layer.top.length} tops`);
      layer.top.forEach((t, j) => values.set(t, ys[j]));
    });
    return outputs.map((o) => values.get(o)!);
  }
}
