/**
 * Small helpers over `onnx-proto` (protobufjs classes for ONNX) to build, encode, decode
 * and read ONNX models. Used by tools/tfjs-to-onnx (writing), tools/convert (reading),
 * tools/make-posenet-onnx and the tests (building graphs).
 */
import onnxProto from 'onnx-proto';

export const { onnx } = onnxProto;
export type ModelProto = onnxProto.onnx.ModelProto;
export type GraphProto = onnxProto.onnx.IGraphProto;
export type NodeProto = onnxProto.onnx.INodeProto;
export type TensorProto = onnxProto.onnx.ITensorProto;
export type AttributeProto = onnxProto.onnx.IAttributeProto;
export type ValueInfoProto = onnxProto.onnx.IValueInfoProto;

export const DataType = onnx.TensorProto.DataType;
export const AttributeType = onnx.AttributeProto.AttributeType;

/** Opset the project's own exports use (Clip takes min and max as inputs from 11 on). */
export const DEFAULT_OPSET = 13;

/** Dimension of a value: a fixed size or a symbolic name. */
export type Dim = number | string;

export function attrInt(name: string, i: number): AttributeProto {
  return { name, type: AttributeType.INT, i };
}
export function attrInts(name: string, ints: number[]): AttributeProto {
  return { name, type: AttributeType.INTS, ints };
}
export function attrFloat(name: string, f: number): AttributeProto {
  return { name, type: AttributeType.FLOAT, f };
}
export function attrString(name: string, s: string): AttributeProto {
  return { name, type: AttributeType.STRING, s: new TextEncoder().encode(s) };
}

export function makeNode(opType: string, inputs: string[], outputs: string[], name: string, attributes: AttributeProto[] = []): NodeProto {
  return { opType, input: inputs, output: outputs, name, attribute: attributes };
}

/** A float32 initializer stored as raw little-endian bytes. */
export function floatTensor(name: string, dims: number[], data: Float32Array | number[]): TensorProto {
  const values = data instanceof Float32Array ? data : Float32Array.from(data);
  const expected = dims.reduce((a, b) => a * b, 1);
  if (values.length !== expected) {
    throw new Error(`tensor ${name}: ${values.length} values for dims [${dims.join(', ')}] (${expected} expected)`);
  }
  const raw = new Uint8Array(values.length * 4);
  const view = new DataView(raw.buffer);
  for (let i = 0; i < values.length; i++) view.setFloat32(i * 4, values[i]!, true);
  return { name, dims, dataType: DataType.FLOAT, rawData: raw };
}

/** An int64 initializer (shapes, axes), stored in int64Data. */
export function int64Tensor(name: string, dims: number[], data: number[]): TensorProto {
  return { name, dims, dataType: DataType.INT64, int64Data: data };
}

export function valueInfo(name: string, elemType: number, dims: Dim[] | null): ValueInfoProto {
  return {
    name,
    type: {
      tensorType: {
        elemType,
        shape: dims === null ? null : { dim: dims.map((d) => (typeof d === 'number' ? { dimValue: d } : { dimParam: d })) },
      },
    },
  };
}

export interface ModelOptions {
  producerName?: string;
  producerVersion?: string;
  opset?: number;
  docString?: string;
  metadata?: Record<string, string>;
}

export function makeModel(graph: GraphProto, options: ModelOptions = {}): ModelProto {
  return onnx.ModelProto.create({
    irVersion: 7,
    producerName: options.producerName ?? 'posenet-webgpu',
    producerVersion: options.producerVersion ?? '0.1.0',
    docString: options.docString ?? '',
    opsetImport: [{ domain: '', version: options.opset ?? DEFAULT_OPSET }],
    graph,
    metadataProps: Object.entries(options.metadata ?? {}).map(([key, value]) => ({ key, value })),
  });
}

export function encodeModel(model: ModelProto | onnxProto.onnx.IModelProto): Uint8Array {
  return onnx.ModelProto.encode(model as onnxProto.onnx.IModelProto).finish();
}

/** Decodes ONNX bytes; throws the protobuf error (callers add the file name). */
export function decodeModel(bytes: Uint8Array): ModelProto {
  return onnx.ModelProto.decode(bytes);
}

/** Number from an int64 field that protobufjs may hand back as a Long. */
export function toNumber(v: number | { toNumber(): number } | null | undefined): number {
  if (v === null || v === undefined) return 0;
  return typeof v === 'number' ? v : v.toNumber();
}

export function getAttr(node: NodeProto, name: string): AttributeProto | undefined {
  return (node.attribute ?? []).find((a) => a.name === name);
}

export function attrIntValue(node: NodeProto, name: string, fallback: number): number {
  const a = getAttr(node, name);
  return a ? toNumber(a.i) : fallback;
}

export function attrIntsValue(node: NodeProto, name: string, fallback: number[]): number[] {
  const a = getAttr(node, name);
  return a ? (a.ints ?? []).map((v) => toNumber(v)) : fallback;
}

export function attrStringValue(node: NodeProto, name: string, fallback: string): string {
  const a = getAttr(node, name);
  return a?.s ? new TextDecoder().decode(a.s) : fallback;
}

export function attrFloatValue(node: NodeProto, name: string, fallback: number): number {
  const a = getAttr(node, name);
  return a && a.f !== null && a.f !== undefined ? a.f : fallback;
}
