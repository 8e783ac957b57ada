// The part of caffe.proto that kusari reads, as field tables shared by the wire and text readers.

/** A scalar field's protobuf type; 'floats'/'doubles' are repeated float/double kept as typed arrays. */
export type ScalarType = 'string' | 'bytes' | 'bool' | 'int32' | 'int64' | 'uint32' | 'uint64' | 'float' | 'double' | 'floats' | 'doubles';

export interface EnumSpec<K extends string = string> { readonly name: string; readonly values: Readonly<Record<K, number>> }

export interface FieldSpec {
  readonly no: number;
  readonly type: ScalarType | EnumSpec | MessageSpec;
  readonly repeated?: true;
}

export interface MessageSpec { readonly name: string; readonly fields: Readonly<Record<string, FieldSpec>> }

type ValueOf<T> = T extends MessageSpec ? Decoded<T>
  : T extends EnumSpec<infer K> ? K
    : T extends 'string' ? string
      : T extends 'bytes' ? Uint8Array
        : T extends 'bool' ? boolean
          : T extends 'floats' ? Float32Array
            : T extends 'doubles' ? Float64Array
              : number;

/**
 * A decoded message: every field that was present (absent fields are undefined, so each
 * reader applies caffe.proto's defaults where it uses them); repeated fields are arrays;
 * enums are their value names, as the text format writes them. `$unknown` lists the fields
 * the schema does not know (by name in text, by number on the wire).
 */
export type Decoded<M extends MessageSpec> = {
  -readonly [K in keyof M['fields']]?: M['fields'][K]['repeated'] extends true
    ? (M['fields'][K]['type'] extends 'floats' | 'doubles' ? ValueOf<M['fields'][K]['type']> : ValueOf<M['fields'][K]['type']>[])
    : ValueOf<M['fields'][K]['type']>;
} & {
  $unknown?: string[];
  /** Where the message starts: its byte offset on the wire, its line in text. */
  $at?: number;
};

const message = <const F extends Record<string, FieldSpec>>(name: string, fields: F): { name: string; fields: F } => ({ name, fields });
const enumOf = <const V extends Record<string, number>>(name: string, values: V): EnumSpec<keyof V & string> => ({ name, values });
const rep = { repeated: true } as const;

export const PHASE = enumOf('Phase', { TRAIN: 0, TEST: 1 });

export const BLOB_SHAPE = message('BlobShape', { dim: { no: 1, type: 'int64', ...rep } });

export const BLOB_PROTO = message('BlobProto', {
  num: { no: 1, type: 'int64' },
  channels: { no: 2, type: 'int64' },
  height: { no: 3, type: 'int64' },
  width: { no: 4, type: 'int64' },
  data: { no: 5, type: 'floats', ...rep },
  diff: { no: 6, type: 'floats', ...rep },
  shape: { no: 7, type: BLOB_SHAPE },
  double_data: { no: 8, type: 'doubles', ...rep },
  double_diff: { no: 9, type: 'doubles', ...rep },
});

export const NET_STATE = message('NetState', {
  phase: { no: 1, type: PHASE },
  level: { no: 2, type: 'int32' },
  stage: { no: 3, type: 'string', ...rep },
});

export const NET_STATE_RULE = message('NetStateRule', {
  phase: { no: 1, type: PHASE },
  min_level: { no: 2, type: 'int32' },
  max_level: { no: 3, type: 'int32' },
  stage: { no: 4, type: 'string', ...rep },
  not_stage: { no: 5, type: 'string', ...rep },
});

export const PARAM_SPEC = message('ParamSpec', {
  name: { no: 1, type: 'string' },
  share_mode: { no: 2, type: enumOf('DimCheckMode', { STRICT: 0, PERMISSIVE: 1 }) },
  lr_mult: { no: 3, type: 'float' },
  decay_mult: { no: 4, type: 'float' },
});

export const FILLER = message('FillerParameter', {
  type: { no: 1, type: 'string' },
  value: { no: 2, type: 'float' },
  min: { no: 3, type: 'float' },
  max: { no: 4, type: 'float' },
  mean: { no: 5, type: 'float' },
  std: { no: 6, type: 'float' },
  sparse: { no: 7, type: 'int32' },
  variance_norm: { no: 8, type: enumOf('VarianceNorm', { FAN_IN: 0, FAN_OUT: 1, AVERAGE: 2 }) },
});

const ENGINE = enumOf('Engine', { DEFAULT: 0, CAFFE: 1, CUDNN: 2 });

export const CONVOLUTION_PARAM = message('ConvolutionParameter', {
  num_output: { no: 1, type: 'uint32' },
  bias_term: { no: 2, type: 'bool' },
  pad: { no: 3, type: 'uint32', ...rep },
  kernel_size: { no: 4, type: 'uint32', ...rep },
  group: { no: 5, type: 'uint32' },
  stride: { no: 6, type: 'uint32', ...rep },
  weight_filler: { no: 7, type: FILLER },
  bias_filler: { no: 8, type: FILLER },
  pad_h: { no: 9, type: 'uint32' },
  pad_w: { no: 10, type: 'uint32' },
  kernel_h: { no: 11, type: 'uint32' },
  kernel_w: { no: 12, type: 'uint32' },
  stride_h: { no: 13, type: 'uint32' },
  stride_w: { no: 14, type: 'uint32' },
  engine: { no: 15, type: ENGINE },
  axis: { no: 16, type: 'int32' },
  force_nd_im2col: { no: 17, type: 'bool' },
  dilation: { no: 18, type: 'uint32', ...rep },
});

export const POOLING_PARAM = message('PoolingParameter', {
  pool: { no: 1, type: enumOf('PoolMethod', { MAX: 0, AVE: 1, STOCHASTIC: 2 }) },
  kernel_size: { no: 2, type: 'uint32' },
  stride: { no: 3, type: 'uint32' },
  pad: { no: 4, type: 'uint32' },
  kernel_h: { no: 5, type: 'uint32' },
  kernel_w: { no: 6, type: 'uint32' },
  stride_h: { no: 7, type: 'uint32' },
  stride_w: { no: 8, type: 'uint32' },
  pad_h: { no: 9, type: 'uint32' },
  pad_w: { no: 10, type: 'uint32' },
  engine: { no: 11, type: ENGINE },
  global_pooling: { no: 12, type: 'bool' },
  round_mode: { no: 13, type: enumOf('RoundMode', { CEIL: 0, FLOOR: 1 }) },
});

export const LRN_PARAM = message('LRNParameter', {
  local_size: { no: 1, type: 'uint32' },
  alpha: { no: 2, type: 'float' },
  beta: { no: 3, type: 'float' },
  norm_region: { no: 4, type: enumOf('NormRegion', { ACROSS_CHANNELS: 0, WITHIN_CHANNEL: 1 }) },
  k: { no: 5, type: 'float' },
  engine: { no: 6, type: ENGINE },
});

export const INNER_PRODUCT_PARAM = message('InnerProductParameter', {
  num_output: { no: 1, type: 'uint32' },
  bias_term: { no: 2, type: 'bool' },
  weight_filler: { no: 3, type: FILLER },
  bias_filler: { no: 4, type: FILLER },
  axis: { no: 5, type: 'int32' },
  transpose: { no: 6, type: 'bool' },
});

export const RELU_PARAM = message('ReLUParameter', { negative_slope: { no: 1, type: 'float' }, engine: { no: 2, type: ENGINE } });
export const SIGMOID_PARAM = message('SigmoidParameter', { engine: { no: 1, type: ENGINE } });
export const TANH_PARAM = message('TanHParameter', { engine: { no: 1, type: ENGINE } });
export const SOFTMAX_PARAM = message('SoftmaxParameter', { engine: { no: 1, type: ENGINE }, axis: { no: 2, type: 'int32' } });
export const DROPOUT_PARAM = message('DropoutParameter', { dropout_ratio: { no: 1, type: 'float' }, scale_train: { no: 2, type: 'bool' } });
export const CONCAT_PARAM = message('ConcatParameter', { concat_dim: { no: 1, type: 'uint32' }, axis: { no: 2, type: 'int32' } });
export const ELTWISE_PARAM = message('EltwiseParameter', {
  operation: { no: 1, type: enumOf('EltwiseOp', { PROD: 0, SUM: 1, MAX: 2 }) },
  coeff: { no: 2, type: 'float', ...rep },
  stable_prod_grad: { no: 3, type: 'bool' },
});
export const BATCH_NORM_PARAM = message('BatchNormParameter', {
  use_global_stats: { no: 1, type: 'bool' },
  moving_average_fraction: { no: 2, type: 'float' },
  eps: { no: 3, type: 'float' },
});
export const SCALE_PARAM = message('ScaleParameter', {
  axis: { no: 1, type: 'int32' },
  num_axes: { no: 2, type: 'int32' },
  filler: { no: 3, type: FILLER },
  bias_term: { no: 4, type: 'bool' },
  bias_filler: { no: 5, type: FILLER },
});
export const MVN_PARAM = message('MVNParameter', {
  normalize_variance: { no: 1, type: 'bool' },
  across_channels: { no: 2, type: 'bool' },
  eps: { no: 3, type: 'float' },
});
export const POWER_PARAM = message('PowerParameter', { power: { no: 1, type: 'float' }, scale: { no: 2, type: 'float' }, shift: { no: 3, type: 'float' } });
export const SLICE_PARAM = message('SliceParameter', {
  slice_dim: { no: 1, type: 'uint32' },
  slice_point: { no: 2, type: 'uint32', ...rep },
  axis: { no: 3, type: 'int32' },
});
export const RESHAPE_PARAM = message('ReshapeParameter', {
  shape: { no: 1, type: BLOB_SHAPE },
  axis: { no: 2, type: 'int32' },
  num_axes: { no: 3, type: 'int32' },
});
export const FLATTEN_PARAM = message('FlattenParameter', { axis: { no: 1, type: 'int32' }, end_axis: { no: 2, type: 'int32' } });
export const INPUT_PARAM = message('InputParameter', { shape: { no: 1, type: BLOB_SHAPE, ...rep } });

/** The layer fields common to LayerParameter and V1LayerParameter (type aside). */
const PARAMS_NEW = {
  concat_param: { no: 104, type: CONCAT_PARAM },
  convolution_param: { no: 106, type: CONVOLUTION_PARAM },
  dropout_param: { no: 108, type: DROPOUT_PARAM },
  eltwise_param: { no: 110, type: ELTWISE_PARAM },
  inner_product_param: { no: 117, type: INNER_PRODUCT_PARAM },
  lrn_param: { no: 118, type: LRN_PARAM },
  mvn_param: { no: 120, type: MVN_PARAM },
  pooling_param: { no: 121, type: POOLING_PARAM },
  power_param: { no: 122, type: POWER_PARAM },
  relu_param: { no: 123, type: RELU_PARAM },
  sigmoid_param: { no: 124, type: SIGMOID_PARAM },
  softmax_param: { no: 125, type: SOFTMAX_PARAM },
  slice_param: { no: 126, type: SLICE_PARAM },
  tanh_param: { no: 127, type: TANH_PARAM },
  reshape_param: { no: 133, type: RESHAPE_PARAM },
  flatten_param: { no: 135, type: FLATTEN_PARAM },
  batch_norm_param: { no: 139, type: BATCH_NORM_PARAM },
  scale_param: { no: 142, type: SCALE_PARAM },
  input_param: { no: 143, type: INPUT_PARAM },
} as const;

export const LAYER_PARAMETER = message('LayerParameter', {
  name: { no: 1, type: 'string' },
  type: { no: 2, type: 'string' },
  bottom: { no: 3, type: 'string', ...rep },
  top: { no: 4, type: 'string', ...rep },
  loss_weight: { no: 5, type: 'float', ...rep },
  param: { no: 6, type: PARAM_SPEC, ...rep },
  blobs: { no: 7, type: BLOB_PROTO, ...rep },
  include: { no: 8, type: NET_STATE_RULE, ...rep },
  exclude: { no: 9, type: NET_STATE_RULE, ...rep },
  phase: { no: 10, type: PHASE },
  propagate_down: { no: 11, type: 'bool', ...rep },
  ...PARAMS_NEW,
});

/** V1LayerParameter's type enum (caffe.proto), named by the layer types they upgrade to. */
export const V1_LAYER_TYPE = enumOf('LayerType', {
  NONE: 0, ACCURACY: 1, BNLL: 2, CONCAT: 3, CONVOLUTION: 4, DATA: 5, DROPOUT: 6, EUCLIDEAN_LOSS: 7, FLATTEN: 8,
  HDF5_DATA: 9, HDF5_OUTPUT: 10, IM2COL: 11, IMAGE_DATA: 12, INFOGAIN_LOSS: 13, INNER_PRODUCT: 14, LRN: 15,
  MULTINOMIAL_LOGISTIC_LOSS: 16, POOLING: 17, RELU: 18, SIGMOID: 19, SOFTMAX: 20, SOFTMAX_LOSS: 21, SPLIT: 22,
  TANH: 23, WINDOW_DATA: 24, ELTWISE: 25, POWER: 26, SIGMOID_CROSS_ENTROPY_LOSS: 27, HINGE_LOSS: 28, MEMORY_DATA: 29,
  ARGMAX: 30, THRESHOLD: 31, DUMMY_DATA: 32, SLICE: 33, MVN: 34, ABSVAL: 35, SILENCE: 36, CONTRASTIVE_LOSS: 37,
  EXP: 38, DECONVOLUTION: 39,
});

/** Caffe's UpgradeV1LayerType: the V1 enum name to the string type of the current format. */
export const V1_TYPE_NAMES: Readonly<Record<string, string>> = {
  NONE: '', ABSVAL: 'AbsVal', ACCURACY: 'Accuracy', ARGMAX: 'ArgMax', BNLL: 'BNLL', CONCAT: 'Concat',
  CONTRASTIVE_LOSS: 'ContrastiveLoss', CONVOLUTION: 'Convolution', DECONVOLUTION: 'Deconvolution', DATA: 'Data',
  DROPOUT: 'Dropout', DUMMY_DATA: 'DummyData', EUCLIDEAN_LOSS: 'EuclideanLoss', ELTWISE: 'Eltwise', EXP: 'Exp',
  FLATTEN: 'Flatten', HDF5_DATA: 'HDF5Data', HDF5_OUTPUT: 'HDF5Output', HINGE_LOSS: 'HingeLoss', IM2COL: 'Im2col',
  IMAGE_DATA: 'ImageData', INFOGAIN_LOSS: 'InfogainLoss', INNER_PRODUCT: 'InnerProduct', LRN: 'LRN',
  MEMORY_DATA: 'MemoryData', MULTINOMIAL_LOGISTIC_LOSS: 'MultinomialLogisticLoss', MVN: 'MVN', POOLING: 'Pooling',
  POWER: 'Power', RELU: 'ReLU', SIGMOID: 'Sigmoid', SIGMOID_CROSS_ENTROPY_LOSS: 'SigmoidCrossEntropyLoss',
  SILENCE: 'Silence', SOFTMAX: 'Softmax', SOFTMAX_LOSS: 'SoftmaxWithLoss', SPLIT: 'Split', SLICE: 'Slice',
  TANH: 'TanH', WINDOW_DATA: 'WindowData', THRESHOLD: 'Threshold',
};

export const V1_LAYER_PARAMETER = message('V1LayerParameter', {
  bottom: { no: 2, type: 'string', ...rep },
  top: { no: 3, type: 'string', ...rep },
  name: { no: 4, type: 'string' },
  type: { no: 5, type: V1_LAYER_TYPE },
  blobs: { no: 6, type: BLOB_PROTO, ...rep },
  blobs_lr: { no: 7, type: 'float', ...rep },
  weight_decay: { no: 8, type: 'float', ...rep },
  concat_param: { no: 9, type: CONCAT_PARAM },
  convolution_param: { no: 10, type: CONVOLUTION_PARAM },
  dropout_param: { no: 12, type: DROPOUT_PARAM },
  inner_product_param: { no: 17, type: INNER_PRODUCT_PARAM },
  lrn_param: { no: 18, type: LRN_PARAM },
  pooling_param: { no: 19, type: POOLING_PARAM },
  power_param: { no: 21, type: POWER_PARAM },
  eltwise_param: { no: 24, type: ELTWISE_PARAM },
  relu_param: { no: 30, type: RELU_PARAM },
  slice_param: { no: 31, type: SLICE_PARAM },
  include: { no: 32, type: NET_STATE_RULE, ...rep },
  exclude: { no: 33, type: NET_STATE_RULE, ...rep },
  mvn_param: { no: 34, type: MVN_PARAM },
  loss_weight: { no: 35, type: 'float', ...rep },
  tanh_param: { no: 37, type: TANH_PARAM },
  sigmoid_param: { no: 38, type: SIGMOID_PARAM },
  softmax_param: { no: 39, type: SOFTMAX_PARAM },
});

export const NET_PARAMETER = message('NetParameter', {
  name: { no: 1, type: 'string' },
  layers: { no: 2, type: V1_LAYER_PARAMETER, ...rep },
  input: { no: 3, type: 'string', ...rep },
  input_dim: { no: 4, type: 'int64', ...rep },
  force_backward: { no: 5, type: 'bool' },
  state: { no: 6, type: NET_STATE },
  debug_info: { no: 7, type: 'bool' },
  input_shape: { no: 8, type: BLOB_SHAPE, ...rep },
  layer: { no: 100, type: LAYER_PARAMETER, ...rep },
});

export type NetParameter = Decoded<typeof NET_PARAMETER>;
export type LayerParameter = Decoded<typeof LAYER_PARAMETER>;
export type V1LayerParameter = Decoded<typeof V1_LAYER_PARAMETER>;
export type BlobProto = Decoded<typeof BLOB_PROTO>;
export type NetStateRule = Decoded<typeof NET_STATE_RULE>;
