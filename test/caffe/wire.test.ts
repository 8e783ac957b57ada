// The wire reader against protobufjs on real caffemodels, packed and unpacked fields, and its errors.

import { readdirSync, readFileSync } from 'node:fs';
import test from 'ava';
import { readCaffemodel } from '../../runtime/caffe/caffemodel.js';
import { BLOB_PROTO, NET_PARAMETER } from '../../runtime/caffe/schema.js';
import { decodeMessage } from '../../runtime/caffe/wire.js';
import { caffeProto, normalized, plain } from './caffe-proto.js';
import { SHARED_CAFFE, sharedFolder } from './caffe-helpers.js';

const packedRoot = caffeProto(true), unpackedRoot = caffeProto(false);
const NetPacked = packedRoot.lookupType('caffe.NetParameter');
const NetUnpacked = unpackedRoot.lookupType('caffe.NetParameter');

/** Long numeric arrays (blob data) replaced by their length and an FNV-1a hash of their float32 bits, for fast exact comparison. */
function digest(x: unknown): unknown {
  if (Array.isArray(x) && x.length > 64 && x.every((v) => typeof v === 'number')) {
    const bits = new Uint32Array(Float32Array.from(x as number[]).buffer);
    let h = 0x811c9dc5;
    for (const b of bits) h = Math.imul(h ^ b, 0x01000193) >>> 0;
    return `${x.length} floats, hash ${h.toString(16)}`;
  }
  if (Array.isArray(x)) return x.map(digest);
  if (x !== null && typeof x === 'object') return Object.fromEntries(Object.entries(x).map(([k, v]) => [k, digest(v)]));
  return x;
}

function caffemodels(): string[] {
  const out: string[] = [];
  for (const folder of ['lenet_2016', 'caffe1_layers', 'opencv_layers_2015']) {
    const dir = sharedFolder(test, folder);
    if (dir !== null) out.push(...readdirSync(dir).filter((f) => f.endsWith('.caffemodel')).map((f) => `${dir}/${f}`));
  }
  return out;
}

for (const path of caffemodels()) {
  const name = path.slice(SHARED_CAFFE.length);
  test(`wire: ${name} decodes as protobufjs decodes it`, (t) => {
    const bytes = readFileSync(path);
    const ours = decodeMessage(bytes, NET_PARAMETER, name);
    t.deepEqual(digest(normalized(ours)), digest(plain(NetPacked, bytes)));
  });

  test(`wire: ${name} re-encoded by protobufjs with unpacked repeated fields decodes the same`, (t) => {
    const bytes = readFileSync(path);
    const unpacked = NetUnpacked.encode(NetUnpacked.fromObject(plain(NetPacked, bytes) as Record<string, unknown>)).finish();
    t.true(unpacked.length > bytes.length || !bytes.includes(0x2a), 'the unpacked encoding is longer (one tag per value)');
    t.deepEqual(digest(normalized(decodeMessage(unpacked, NET_PARAMETER, name))), digest(normalized(decodeMessage(bytes, NET_PARAMETER, name))));
  });
}

test('wire: LeNet decodes to Caffe\'s layer list, float blobs as Float32Arrays', (t) => {
  const path = `${SHARED_CAFFE}lenet_2016/lenet_iter_10000.caffemodel`;
  const net = readCaffemodel(readFileSync(path), 'lenet_iter_10000.caffemodel');
  t.is(net.name, 'LeNet');
  t.is(net.format, 'layer');
  t.deepEqual(net.layers.map((l) => [l.name, l.type, l.bottom.join(','), l.top.join(','), l.blobs.map((b) => b.shape.join('x')).join(' ')]), [
    ['mnist', 'Data', '', 'data,label', ''],
    ['conv1', 'Convolution', 'data', 'conv1', '20x1x5x5 20'],
    ['pool1', 'Pooling', 'conv1', 'pool1', ''],
    ['conv2', 'Convolution', 'pool1', 'conv2', '50x20x5x5 50'],
    ['pool2', 'Pooling', 'conv2', 'pool2', ''],
    ['ip1', 'InnerProduct', 'pool2', 'ip1', '500x800 500'],
    ['relu1', 'ReLU', 'ip1', 'ip1', ''],
    ['ip2', 'InnerProduct', 'ip1', 'ip2', '10x500 10'],
    ['loss', 'SoftmaxWithLoss', 'ip2,label', 'loss', ''],
  ]);
  const ip1 = net.layers[5].blobs[0];
  t.true(ip1.data instanceof Float32Array);
  t.is(ip1.data.length, 400000);
  t.false(ip1.legacy);
  t.deepEqual(net.layers[0].include.map((r) => r.phase), ['TRAIN']);
});

test('wire: double_data blobs and mixed packed/unpacked pieces of one field', (t) => {
  const Blob = packedRoot.lookupType('caffe.BlobProto'), BlobU = unpackedRoot.lookupType('caffe.BlobProto');
  const doubles = Blob.encode(Blob.fromObject({ shape: { dim: [3] }, double_data: [0.1, -2.5, 1e300] })).finish();
  const b = decodeMessage(doubles, BLOB_PROTO, 'double.caffemodel');
  t.true(b.double_data instanceof Float64Array);
  t.deepEqual(Array.from(b.double_data!), [0.1, -2.5, 1e300]);
  // a packed run followed by unpacked values of the same field concatenate, in order
  const packed = Blob.encode(Blob.fromObject({ data: [1, 2] })).finish();
  const unpacked = BlobU.encode(BlobU.fromObject({ data: [3, 4.5] })).finish();
  const mixed = new Uint8Array([...packed, ...unpacked]);
  t.deepEqual(Array.from(decodeMessage(mixed, BLOB_PROTO, 'mixed').data!), [1, 2, 3, 4.5]);
  // readCaffemodel turns double data into float32 blobs
  const Net = packedRoot.lookupType('caffe.NetParameter');
  const net = Net.encode(Net.fromObject({ layer: [{ name: 'ip', type: 'InnerProduct', blobs: [{ shape: { dim: [1, 2] }, double_data: [0.5, 1 / 3] }] }] })).finish();
  const blob = readCaffemodel(net, 'd.caffemodel').layers[0].blobs[0];
  t.true(blob.data instanceof Float32Array);
  t.deepEqual(Array.from(blob.data), [0.5, Math.fround(1 / 3)]);
});

// ---- errors: file and byte offset, lengths bounded by what remains ---------------------------

/** A varint's bytes. */
function varint(n: number): number[] {
  const out: number[] = [];
  while (n >= 0x80) { out.push((n % 0x80) | 0x80); n = Math.floor(n / 0x80); }
  out.push(n);
  return out;
}
const tag = (no: number, wt: number) => varint(no * 8 + wt);

test('wire: a length larger than the bytes left is refused before anything is allocated', (t) => {
  // NetParameter.layer (100), length 2^31 - 1, then 3 bytes
  const bytes = new Uint8Array([...tag(100, 2), ...varint(2 ** 31 - 1), 1, 2, 3]);
  t.throws(() => decodeMessage(bytes, NET_PARAMETER, 'huge.caffemodel'), {
    message: 'huge.caffemodel: byte 2: NetParameter.layer: length 2147483647 exceeds the 3 bytes that remain',
  });
  // a blob's packed floats claim more than their enclosing layer holds
  const blob = [...tag(5, 2), ...varint(400), 0, 0, 0, 0];
  const layer = [...tag(7, 2), ...varint(blob.length), ...blob];
  const net = new Uint8Array([...tag(100, 2), ...varint(layer.length), ...layer, ...new Array<number>(500).fill(0)]);
  t.throws(() => decodeMessage(net, NET_PARAMETER, 'blob.caffemodel'), {
    message: 'blob.caffemodel: byte 6: BlobProto.data: length 400 exceeds the 4 bytes that remain',
  });
  // lengths of 2^31 and more are never lengths
  t.throws(() => decodeMessage(new Uint8Array([...tag(1, 2), ...varint(2 ** 40)]), NET_PARAMETER, 'x'), {
    message: 'x: byte 1: NetParameter.name: length 1099511627776 is not a valid length',
  });
});

test('wire: truncated and malformed input name the file and the offset', (t) => {
  const lenet = readFileSync(`${SHARED_CAFFE}lenet_2016/lenet_iter_10000.caffemodel`);
  const cut = lenet.subarray(0, 100_000);
  const e = t.throws(() => decodeMessage(cut, NET_PARAMETER, 'cut.caffemodel'));
  t.regex(e.message, /^cut\.caffemodel: byte \d+: NetParameter\.layer: length \d+ exceeds the \d+ bytes that remain$/);
  t.throws(() => decodeMessage(new Uint8Array([0x80, 0x80]), NET_PARAMETER, 'v'), { message: 'v: byte 0: NetParameter: varint runs past the end of its message (2 bytes left)' });
  t.throws(() => decodeMessage(new Uint8Array(11).fill(0xff), NET_PARAMETER, 'v'), { message: 'v: byte 0: NetParameter: malformed varint (the 10th byte is 255, at most 1)' });
  t.throws(() => decodeMessage(new Uint8Array([...tag(1, 0), 1]), NET_PARAMETER, 'w'), { message: 'w: byte 0: NetParameter.name: wire type 0, expected 2 (string)' });
  t.throws(() => decodeMessage(new Uint8Array([...tag(1, 7)]), NET_PARAMETER, 'w'), { message: 'w: byte 0: NetParameter.name: wire type 7, expected 2 (string)' });
  t.throws(() => decodeMessage(new Uint8Array([...tag(77, 6)]), NET_PARAMETER, 'w'), { message: 'w: byte 0: NetParameter.#77: invalid wire type 6' });
  t.throws(() => decodeMessage(new Uint8Array([0]), NET_PARAMETER, 'z'), { message: 'z: byte 0: NetParameter: invalid field number 0' });
  // PoolingParameter.pool = 9 inside a layer
  const pool = [...tag(1, 0), 9];
  const layer = [...tag(121, 2), ...varint(pool.length), ...pool];
  t.throws(() => decodeMessage(new Uint8Array([...tag(100, 2), ...varint(layer.length), ...layer]), NET_PARAMETER, 'e'), {
    message: 'e: byte 7: PoolingParameter.pool: 9 is not a value of enum PoolMethod',
  });
  const floats = [...tag(5, 2), ...varint(3), 0, 0, 0];
  t.throws(() => decodeMessage(new Uint8Array(floats), BLOB_PROTO, 'f'), { message: 'f: byte 2: BlobProto.data: packed floats take 3 bytes, not a multiple of 4' });
});

test('wire: unknown fields are skipped (groups too, at most 64 deep) and listed', (t) => {
  const group = [...tag(50, 3), ...tag(51, 0), 7, ...tag(52, 3), ...tag(52, 4), ...tag(50, 4)];
  const net = decodeMessage(new Uint8Array([...group, ...tag(1, 2), 1, 0x41, ...tag(60, 5), 1, 2, 3, 4]), NET_PARAMETER, 'u');
  t.is(net.name, 'A');
  t.deepEqual(net.$unknown, ['#50', '#60']);
  const deep = new Uint8Array([...Array.from({ length: 70 }, () => tag(50, 3)).flat()]);
  t.throws(() => decodeMessage(deep, NET_PARAMETER, 'deep'), { message: /^deep: byte \d+: NetParameter(\.#50)+: groups nested deeper than 64$/ });
  t.throws(() => decodeMessage(new Uint8Array([...tag(50, 3), ...tag(51, 4)]), NET_PARAMETER, 'g'), { message: 'g: byte 2: NetParameter.#50: group 50 closed by end-group 51' });
});

test('wire: a blob whose shape and data disagree names the layer, the blob and both counts', (t) => {
  const Net = packedRoot.lookupType('caffe.NetParameter');
  const bytes = Net.encode(Net.fromObject({ layer: [{ name: 'ip', type: 'InnerProduct', blobs: [{ shape: { dim: [2, 3] }, data: [1, 2, 3, 4, 5] }] }] })).finish();
  t.throws(() => readCaffemodel(bytes, 'bad.caffemodel'), { message: "bad.caffemodel: byte 3: layer 0 'ip': blob 0: shape (2, 3) holds 6 values but the blob has 5" });
  const huge = Net.encode(Net.fromObject({ layer: [{ name: 'ip', blobs: [{ shape: { dim: [100000, 100000, 100000] }, data: [1] }] }] })).finish();
  t.throws(() => readCaffemodel(huge, 'huge.caffemodel'), { message: "huge.caffemodel: byte 3: layer 0 'ip': blob 0: shape (100000, 100000, 100000) holds 1000000000000000 values but the blob has 1" });
  const negative = Net.encode(Net.fromObject({ layer: [{ name: 'ip', blobs: [{ shape: { dim: [-4] } }] }] })).finish();
  t.throws(() => readCaffemodel(negative, 'neg.caffemodel'), { message: "neg.caffemodel: byte 3: layer 0 'ip': blob 0: shape (-4) has an invalid dimension -4" });
});
