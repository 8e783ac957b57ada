// Caffe models in kusari: the readers and CaffeFunction (not yet exported from runtime/index.ts: convolution and pooling are pending).

export { CaffeFunction, type CaffeCallArgs, type CaffeFunctionOptions } from './caffe-function.js';
export { readCaffemodel, type CaffeBlob, type CaffeInput, type CaffeLayer, type CaffeNet } from './caffemodel.js';
export { readPrototxt } from './prototxt.js';
