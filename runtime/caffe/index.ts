// Caffe models in kusari: the readers and CaffeFunction, exported from runtime/index.ts.

export { CaffeFunction, type CaffeCallArgs, type CaffeFunctionOptions } from './caffe-function.js';
export { readCaffemodel, type CaffeBlob, type CaffeInput, type CaffeLayer, type CaffeNet } from './caffemodel.js';
export { readPrototxt } from './prototxt.js';
