// The serializers namespace: npz and npy files that numpy and Chainer read, and the Serializer contract.

export { saveNpz, loadNpz, saveNpzBytes, loadNpzBytes, type SaveNpzOptions, type LoadNpzOptions } from './npz.js';
export { saveNpy, loadNpy } from './npy.js';
export { writeFileAtomic } from './atomic-write.js';
export type { Serializer, Serializable } from './serializer.js';
