// .caffemodel files: NetParameter from the wire, V1 and current layers brought to one form (CaffeNet).

import {
  NET_PARAMETER, V1_TYPE_NAMES, type BlobProto, type LayerParameter, type NetParameter, type NetStateRule, type V1LayerParameter,
} from './schema.js';
import { decodeMessage } from './wire.js';

/** A parameter blob: its shape (legacy 4-D num/channels/height/width kept as written) and float32 data. */
export interface CaffeBlob {
  readonly shape: readonly number[];
  /** Whether the shape came from the legacy num/channels/height/width fields (V1 models). */
  readonly legacy: boolean;
  readonly data: Float32Array;
}

/** One layer, whichever format it came from: the V1 enum type is upgraded to its string name. */
export interface CaffeLayer {
  readonly name: string;
  readonly type: string;
  readonly bottom: readonly string[];
  readonly top: readonly string[];
  readonly blobs: readonly CaffeBlob[];
  /** The layer's message: V1 layers carry the same `*_param` fields as current ones. */
  readonly param: LayerParameter;
  readonly include: readonly NetStateRule[];
  readonly exclude: readonly NetStateRule[];
  /** Where the layer starts, for errors: `lenet.caffemodel: byte 1234` or `lenet.prototxt: line 12`. */
  readonly where: string;
}

/** A net-level input (NetParameter's `input` with `input_shape` or `input_dim`). */
export interface CaffeInput { readonly name: string; readonly shape: readonly number[] | null }

export interface CaffeNet {
  readonly name: string;
  readonly file: string;
  readonly format: 'layer' | 'V1';
  readonly inputs: readonly CaffeInput[];
  readonly layers: readonly CaffeLayer[];
}

const sizeOf = (shape: readonly number[]) => shape.reduce((a, b) => a * b, 1);

/** `location(file, 'byte', 12)` is 'file: byte 12'. */
export const location = (file: string, unit: 'byte' | 'line', at: number | undefined): string => `${file}: ${unit} ${at ?? 0}`;

function blobFrom(b: BlobProto, where: string, index: number): CaffeBlob {
  const at = `${where}: blob ${index}`;
  const legacy = b.num !== undefined || b.channels !== undefined || b.height !== undefined || b.width !== undefined;
  const shape = legacy ? [b.num ?? 0, b.channels ?? 0, b.height ?? 0, b.width ?? 0] : (b.shape?.dim ?? []);
  if (shape.length > 32) throw new Error(`${at}: shape has ${shape.length} axes, Caffe allows at most 32`);
  for (const d of shape) {
    if (!Number.isSafeInteger(d) || d < 0) throw new Error(`${at}: shape (${shape.join(', ')}) has an invalid dimension ${d}`);
  }
  // the shape is checked against the data that the file holds before anything is allocated from it
  const count = sizeOf(shape);
  const values = b.double_data !== undefined && b.double_data.length > 0 ? b.double_data : b.data;
  const n = values?.length ?? 0;
  if (count !== n) throw new Error(`${at}: shape (${shape.join(', ')}) holds ${count} values but the blob has ${n}`);
  const data = values instanceof Float32Array ? values : new Float32Array(values ?? []);
  return { shape, legacy, data };
}

function strings(list: readonly string[] | undefined): string[] { return list === undefined ? [] : list.slice(); }

function fromLayer(l: LayerParameter, file: string, unit: 'byte' | 'line', index: number): CaffeLayer {
  const where = `${location(file, unit, l.$at)}: layer ${index} '${l.name ?? ''}'`;
  return {
    name: l.name ?? '', type: l.type ?? '', bottom: strings(l.bottom), top: strings(l.top),
    blobs: (l.blobs ?? []).map((b, i) => blobFrom(b, where, i)), param: l, include: l.include ?? [], exclude: l.exclude ?? [], where,
  };
}

function fromV1Layer(l: V1LayerParameter, file: string, unit: 'byte' | 'line', index: number): CaffeLayer {
  const where = `${location(file, unit, l.$at)}: layer ${index} '${l.name ?? ''}'`;
  const type = V1_TYPE_NAMES[l.type ?? 'NONE'] ?? '';
  // the V1 message's *_param fields have the same names and messages as LayerParameter's
  const { blobs_lr: _lr, weight_decay: _wd, type: _t, ...common } = l;
  const param: LayerParameter = { ...common, type };
  return {
    name: l.name ?? '', type, bottom: strings(l.bottom), top: strings(l.top),
    blobs: (l.blobs ?? []).map((b, i) => blobFrom(b, where, i)), param, include: l.include ?? [], exclude: l.exclude ?? [], where,
  };
}

/** Bring a decoded NetParameter (from the wire or from text) to a CaffeNet. */
export function netFrom(net: NetParameter, file: string, unit: 'byte' | 'line'): CaffeNet {
  const v1 = net.layers ?? [], current = net.layer ?? [];
  if (v1.length > 0 && current.length > 0) {
    throw new Error(`${location(file, unit, net.$at)}: the net has both V1 'layers' (${v1.length}) and current 'layer' (${current.length}) fields; Caffe refuses such a net`);
  }
  const names = net.input ?? [];
  const inputShapes = net.input_shape ?? [], inputDims = net.input_dim ?? [];
  if (inputShapes.length > 0 && inputDims.length > 0) throw new Error(`${location(file, unit, net.$at)}: the net gives both input_shape and input_dim`);
  if (inputShapes.length > 0 && inputShapes.length !== names.length) {
    throw new Error(`${location(file, unit, net.$at)}: ${names.length} inputs but ${inputShapes.length} input_shape entries`);
  }
  if (inputDims.length > 0 && inputDims.length !== 4 * names.length) {
    throw new Error(`${location(file, unit, net.$at)}: ${names.length} inputs need ${4 * names.length} input_dim values, got ${inputDims.length}`);
  }
  const inputs = names.map((name, i): CaffeInput => ({
    name,
    shape: inputShapes.length > 0 ? (inputShapes[i].dim ?? []) : inputDims.length > 0 ? inputDims.slice(4 * i, 4 * i + 4) : null,
  }));
  const layers = v1.length > 0 ? v1.map((l, i) => fromV1Layer(l, file, unit, i)) : current.map((l, i) => fromLayer(l, file, unit, i));
  return { name: net.name ?? '', file, format: v1.length > 0 ? 'V1' : 'layer', inputs, layers };
}

/**
 * Read a .caffemodel (a binary NetParameter, current or V1 format). Errors name `file` and
 * the byte offset: `lenet.caffemodel: byte 1234: BlobProto.data: length ... exceeds ...`.
 */
export function readCaffemodel(bytes: Uint8Array, file = 'caffemodel'): CaffeNet {
  return netFrom(decodeMessage(bytes, NET_PARAMETER, file), file, 'byte');
}
