// The links namespace (L).

export { Link, Chain, ChainList, Parameter } from './link.js';
export { Linear, type LinearOptions } from './linear.js';
export { BatchNormalization, type BatchNormalizationOptions } from './batch-normalization.js';
export { Convolution2D, Deconvolution2D, type Convolution2DLinkOptions, type Deconvolution2DLinkOptions } from './convolution-2d.js';
export { Classifier, type ClassifierOptions, type Predictor } from './classifier.js';
export { EmbedID, type EmbedIDOptions } from './embed-id.js';
export { LSTM, type LSTMOptions } from './lstm.js';
export { Sequential, type Layer } from './sequential.js';
export * as initializers from './initializers.js';
