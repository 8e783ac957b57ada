// A trimmed caffe.proto for protobufjs: the independent decoder and encoder the wire tests compare against.

import protobuf from 'protobufjs';

/**
 * Field numbers and types as in BVLC caffe.proto (proto2). `packed` chooses how the repeated
 * numeric fields are written: caffe.proto packs BlobProto's data and BlobShape's dim; the
 * unpacked variant writes every value with its own tag, which readers must accept too.
 */
export function caffeProto(packed: boolean): protobuf.Root {
  const p = `[packed = ${packed}]`;
  return protobuf.parse(`
syntax = "proto2";
package caffe;
message BlobShape { repeated int64 dim = 1 ${p}; }
message BlobProto {
  optional BlobShape shape = 7;
  repeated float data = 5 ${p};
  repeated float diff = 6 ${p};
  repeated double double_data = 8 ${p};
  repeated double double_diff = 9 ${p};
  optional int32 num = 1; optional int32 channels = 2; optional int32 height = 3; optional int32 width = 4;
}
enum Phase { TRAIN = 0; TEST = 1; }
message NetState { optional Phase phase = 1; optional int32 level = 2; repeated string stage = 3; }
message NetStateRule {
  optional Phase phase = 1; optional int32 min_level = 2; optional int32 max_level = 3;
  repeated string stage = 4; repeated string not_stage = 5;
}
message ParamSpec {
  optional string name = 1;
  enum DimCheckMode { STRICT = 0; PERMISSIVE = 1; }
  optional DimCheckMode share_mode = 2; optional float lr_mult = 3; optional float decay_mult = 4;
}
message FillerParameter {
  optional string type = 1; optional float value = 2; optional float min = 3; optional float max = 4;
  optional float mean = 5; optional float std = 6; optional int32 sparse = 7;
  enum VarianceNorm { FAN_IN = 0; FAN_OUT = 1; AVERAGE = 2; }
  optional VarianceNorm variance_norm = 8;
}
message ConvolutionParameter {
  optional uint32 num_output = 1; optional bool bias_term = 2; repeated uint32 pad = 3; repeated uint32 kernel_size = 4;
  repeated uint32 stride = 6; repeated uint32 dilation = 18; optional uint32 pad_h = 9; optional uint32 pad_w = 10;
  optional uint32 kernel_h = 11; optional uint32 kernel_w = 12; optional uint32 stride_h = 13; optional uint32 stride_w = 14;
  optional uint32 group = 5; optional FillerParameter weight_filler = 7; optional FillerParameter bias_filler = 8;
  enum Engine { DEFAULT = 0; CAFFE = 1; CUDNN = 2; }
  optional Engine engine = 15; optional int32 axis = 16; optional bool force_nd_im2col = 17;
}
message PoolingParameter {
  enum PoolMethod { MAX = 0; AVE = 1; STOCHASTIC = 2; }
  optional PoolMethod pool = 1; optional uint32 pad = 4; optional uint32 pad_h = 9; optional uint32 pad_w = 10;
  optional uint32 kernel_size = 2; optional uint32 kernel_h = 5; optional uint32 kernel_w = 6;
  optional uint32 stride = 3; optional uint32 stride_h = 7; optional uint32 stride_w = 8;
  enum Engine { DEFAULT = 0; CAFFE = 1; CUDNN = 2; }
  optional Engine engine = 11; optional bool global_pooling = 12;
  enum RoundMode { CEIL = 0; FLOOR = 1; }
  optional RoundMode round_mode = 13;
}
message InnerProductParameter {
  optional uint32 num_output = 1; optional bool bias_term = 2; optional FillerParameter weight_filler = 3;
  optional FillerParameter bias_filler = 4; optional int32 axis = 5; optional bool transpose = 6;
}
message ReLUParameter { optional float negative_slope = 1; }
message SoftmaxParameter { optional int32 axis = 2; }
message DropoutParameter { optional float dropout_ratio = 1; optional bool scale_train = 2; }
message ConcatParameter { optional int32 axis = 2; optional uint32 concat_dim = 1; }
message EltwiseParameter {
  enum EltwiseOp { PROD = 0; SUM = 1; MAX = 2; }
  optional EltwiseOp operation = 1; repeated float coeff = 2; optional bool stable_prod_grad = 3;
}
message BatchNormParameter { optional bool use_global_stats = 1; optional float moving_average_fraction = 2; optional float eps = 3; }
message ScaleParameter {
  optional int32 axis = 1; optional int32 num_axes = 2; optional FillerParameter filler = 3;
  optional bool bias_term = 4; optional FillerParameter bias_filler = 5;
}
message InputParameter { repeated BlobShape shape = 1; }
message LayerParameter {
  optional string name = 1; optional string type = 2; repeated string bottom = 3; repeated string top = 4;
  optional Phase phase = 10; repeated float loss_weight = 5; repeated ParamSpec param = 6; repeated BlobProto blobs = 7;
  repeated bool propagate_down = 11; repeated NetStateRule include = 8; repeated NetStateRule exclude = 9;
  optional ConcatParameter concat_param = 104; optional ConvolutionParameter convolution_param = 106;
  optional DropoutParameter dropout_param = 108; optional EltwiseParameter eltwise_param = 110;
  optional InnerProductParameter inner_product_param = 117; optional PoolingParameter pooling_param = 121;
  optional ReLUParameter relu_param = 123; optional SoftmaxParameter softmax_param = 125;
  optional BatchNormParameter batch_norm_param = 139; optional ScaleParameter scale_param = 142;
  optional InputParameter input_param = 143;
}
message V1LayerParameter {
  repeated string bottom = 2; repeated string top = 3; optional string name = 4;
  repeated NetStateRule include = 32; repeated NetStateRule exclude = 33;
  enum LayerType {
    NONE = 0; CONCAT = 3; CONVOLUTION = 4; DATA = 5; DROPOUT = 6; INNER_PRODUCT = 14; LRN = 15; POOLING = 17;
    RELU = 18; SIGMOID = 19; SOFTMAX = 20; SOFTMAX_LOSS = 21; SPLIT = 22; ELTWISE = 25; SLICE = 33; DECONVOLUTION = 39;
  }
  optional LayerType type = 5; repeated BlobProto blobs = 6; repeated float blobs_lr = 7; repeated float weight_decay = 8;
  optional ConcatParameter concat_param = 9; optional ConvolutionParameter convolution_param = 10;
  optional DropoutParameter dropout_param = 12; optional InnerProductParameter inner_product_param = 17;
  optional PoolingParameter pooling_param = 19; optional EltwiseParameter eltwise_param = 24;
  optional ReLUParameter relu_param = 30; optional SoftmaxParameter softmax_param = 39;
}
message NetParameter {
  optional string name = 1; repeated string input = 3; repeated BlobShape input_shape = 8; repeated int32 input_dim = 4;
  optional bool force_backward = 5; optional NetState state = 6; optional bool debug_info = 7;
  repeated LayerParameter layer = 100; repeated V1LayerParameter layers = 2;
}
`, { keepCase: true }).root;
}

/** A protobufjs message as plain JSON-like data: enums by name, 64-bit integers as numbers. */
export function plain(type: protobuf.Type, bytes: Uint8Array): unknown {
  return type.toObject(type.decode(bytes), { enums: String, longs: Number, defaults: false, arrays: false });
}

/** Our decoded message in the same form: bookkeeping ($at, $unknown) dropped, typed arrays as plain arrays. */
export function normalized(x: unknown): unknown {
  if (x instanceof Float32Array || x instanceof Float64Array) return Array.from(x);
  if (Array.isArray(x)) return x.map(normalized);
  if (x !== null && typeof x === 'object') {
    return Object.fromEntries(Object.entries(x).filter(([k]) => !k.startsWith('$')).map(([k, v]) => [k, normalized(v)]));
  }
  return x;
}
