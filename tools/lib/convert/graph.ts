/**
 * Stage 1 of the converter: reading the ONNX graph. Decodes the model, checks that it is a
 * well-formed graph (one image input, each tensor written by one node, no cycles, every
 * tensor a node reads computed somewhere), orders the nodes the outputs depend on
 * topologically, counts each tensor's readers and works out the input's layout. Errors
 * blame the input and name the nodes and tensors involved.
 */
import {
  attrIntsValue,
  DataType,
  decodeModel,
  onnx,
  toNumber,
  type GraphProto,
  type ModelProto,
  type NodeProto,
  type TensorProto,
  type ValueInfoProto,
} from '../onnx.ts';
import { IDENTITY_PERM, NHWC_PERM, samePerm, type ConstVal, type Fail, type ImageVal } from './common.ts';

export interface GraphNode {
  node: NodeProto;
  /** Position in the file's node list (names unnamed nodes: `#12`). */
  index: number;
}

export const describeNode = ({ node, index }: GraphNode): string => `node "${node.name || `#${index}`}" (${node.opType})`;

const typeName = (t: number | null | undefined): string => (DataType as unknown as Record<number, string>)[t ?? 0] ?? String(t);

export class OnnxGraph {
  readonly model: ModelProto;
  readonly graph: GraphProto;
  readonly graphOutputs: string[];
  readonly initializers = new Map<string, TensorProto>();
  /** Readers of each tensor among the live nodes (graph outputs count as one). */
  readonly consumers = new Map<string, number>();
  readonly input: ValueInfoProto;
  readonly inputName: string;
  /** Nodes some graph output depends on, in a topological order (stable). */
  readonly nodes: GraphNode[];
  readonly inputLayout: 'NHWC' | 'NCHW';

  constructor(
    bytes: Uint8Array,
    private readonly fail: Fail,
  ) {
    let model: ModelProto;
    try {
      model = decodeModel(bytes);
    } catch (e) {
      throw fail(`not an ONNX model, or a truncated one (protobuf decoding failed: ${(e as Error).message})`);
    }
    if (!model.graph || !(model.graph.node ?? []).length) throw fail('not an ONNX model (no graph with nodes in it)');
    this.model = model;
    this.graph = model.graph;
    this.graphOutputs = (this.graph.output ?? []).map((o) => o.name ?? '');
    if (this.graphOutputs.length === 0) throw fail('the graph has no outputs');

    for (const t of this.graph.initializer ?? []) {
      if (isExternal(t)) throw fail(externalMessage('initializer', t.name ?? ''));
      if (this.initializers.has(t.name ?? ''))
        throw fail(`two initializers are named "${t.name}"; in a valid ONNX graph every tensor has one name`);
      this.initializers.set(t.name ?? '', t);
    }
    if ((this.graph.sparseInitializer ?? []).length > 0) {
      throw fail(`the graph has sparse initializers (${this.graph.sparseInitializer!.length}); they are not supported`);
    }
    this.input = this.findInput();
    this.inputName = this.input.name ?? '';
    const all = (this.graph.node ?? []).map((node, index) => ({ node, index }));
    const producers = this.producers(all);
    this.nodes = this.liveNodes(all, producers);
    for (const { node } of this.nodes) {
      for (const i of node.input ?? []) if (i) this.consumers.set(i, this.consumerCount(i) + 1);
    }
    for (const o of this.graphOutputs) this.consumers.set(o, this.consumerCount(o) + 1);
    this.inputLayout = this.findInputLayout();
  }

  consumerCount(name: string): number {
    return this.consumers.get(name) ?? 0;
  }

  metadata(key: string): string | undefined {
    return (this.model.metadataProps ?? []).find((p) => p.key === key)?.value ?? undefined;
  }

  /** The graph input as the fusion stage starts from it: the raw image, no ops yet. */
  imageValue(): ImageVal {
    return {
      kind: 'image',
      tensor: this.inputName,
      perm: this.inputLayout === 'NHWC' ? [...NHWC_PERM] : [...IDENTITY_PERM],
      a: [1, 1, 1],
      b: [0, 0, 0],
      ops: 0,
    };
  }

  /** A float32 tensor's values; `what` names it in errors ("initializer", "node ... tensor"). */
  tensorToConst(t: TensorProto, what: string): ConstVal {
    const name = t.name ?? '';
    if (isExternal(t)) throw this.fail(externalMessage(what, name));
    const dims = (t.dims ?? []).map((d) => toNumber(d));
    if (t.dataType !== DataType.FLOAT) {
      throw this.fail(`${what} "${name}" has data type ${typeName(t.dataType)}; only FLOAT (float32) weights are supported`);
    }
    const count = dims.reduce((a, b) => a * b, 1);
    const shape = `dims [${dims.join(', ')}]`;
    let data: Float32Array;
    if (t.rawData && t.rawData.length > 0) {
      if (t.rawData.length !== count * 4) {
        throw this.fail(`${what} "${name}" has ${t.rawData.length} bytes of raw data for ${shape} (${count * 4} expected)`);
      }
      const view = new DataView(t.rawData.buffer, t.rawData.byteOffset, t.rawData.byteLength);
      data = new Float32Array(count);
      for (let i = 0; i < count; i++) data[i] = view.getFloat32(i * 4, true);
    } else {
      const fd = t.floatData ?? [];
      if (fd.length !== count) throw this.fail(`${what} "${name}" has ${fd.length} float_data values for ${shape} (${count} expected)`);
      data = Float32Array.from(fd);
    }
    return { kind: 'const', name, dims, data };
  }

  private findInput(): ValueInfoProto {
    const inputs = (this.graph.input ?? []).filter((i) => !this.initializers.has(i.name ?? ''));
    if (inputs.length !== 1) {
      throw this.fail(
        `the graph has ${inputs.length} inputs (${inputs.map((i) => `"${i.name}"`).join(', ')}); a PoseNet has one image input`,
      );
    }
    return inputs[0]!;
  }

  /** The node writing each tensor; two writers of one tensor make the graph invalid. */
  private producers(all: GraphNode[]): Map<string, GraphNode> {
    const producers = new Map<string, GraphNode>();
    for (const n of all) {
      for (const o of n.node.output ?? []) {
        if (!o) continue;
        const other = producers.get(o);
        if (other) {
          throw this.fail(
            `${describeNode(other)} and ${describeNode(n)} both write tensor "${o}"; in a valid ONNX graph every tensor has one writer`,
          );
        }
        if (o === this.inputName) throw this.fail(`${describeNode(n)} writes tensor "${o}", which is the graph input`);
        if (this.initializers.has(o)) throw this.fail(`${describeNode(n)} writes tensor "${o}", which is also an initializer`);
        producers.set(o, n);
      }
    }
    return producers;
  }

  /** Nodes that some graph output depends on, in a topological order (stable). */
  private liveNodes(all: GraphNode[], producers: Map<string, GraphNode>): GraphNode[] {
    const available = new Set<string>(['', this.inputName, ...this.initializers.keys()]);
    const order: GraphNode[] = [];
    let pending = all;
    for (;;) {
      const next: GraphNode[] = [];
      for (const n of pending) {
        if ((n.node.input ?? []).every((i) => available.has(i))) {
          order.push(n);
          for (const o of n.node.output ?? []) available.add(o);
        } else {
          next.push(n);
        }
      }
      if (next.length === pending.length) break;
      pending = next;
    }
    for (const o of this.graphOutputs) {
      if (!available.has(o)) throw this.fail(`graph output "${o}" cannot be computed: ${this.whyNotComputed(o, available, producers)}`);
    }
    const needed = new Set(this.graphOutputs);
    const live: GraphNode[] = [];
    for (let i = order.length - 1; i >= 0; i--) {
      const n = order[i]!;
      if ((n.node.output ?? []).some((o) => needed.has(o))) {
        live.push(n);
        for (const inp of n.node.input ?? []) needed.add(inp);
      }
    }
    if (!needed.has(this.inputName)) throw this.fail(`the graph outputs do not depend on the input "${this.inputName}"`);
    return live.reverse();
  }

  /**
   * Why `tensor` is never available: follows unavailable inputs back to their root, a
   * tensor nothing writes or a cycle, and names the nodes on the way.
   */
  private whyNotComputed(tensor: string, available: Set<string>, producers: Map<string, GraphNode>): string {
    const path: GraphNode[] = [];
    let current = tensor;
    for (;;) {
      const producer = producers.get(current);
      if (!producer) {
        const reader = path[path.length - 1];
        return reader
          ? `${describeNode(reader)} reads tensor "${current}", which no node writes and which is neither the input nor an initializer`
          : 'no node writes it';
      }
      const loop = path.indexOf(producer);
      if (loop >= 0) {
        const cycle = [...path.slice(loop), producer].map(describeNode).join(' → ');
        return `the graph has a cycle: ${cycle} (each reads the output of the next)`;
      }
      path.push(producer);
      current = (producer.node.input ?? []).find((i) => !available.has(i)) ?? '';
    }
  }

  private findInputLayout(): 'NHWC' | 'NCHW' {
    const name = this.inputName;
    const tt = this.input.type?.tensorType;
    if (!tt) throw this.fail(`input "${name}" is not a tensor`);
    if (tt.elemType !== DataType.FLOAT) {
      throw this.fail(`input "${name}" has element type ${typeName(tt.elemType)}; a float32 image input is expected`);
    }
    let dims: (number | string | undefined)[] | undefined;
    if (tt.shape) {
      dims = (tt.shape.dim ?? []).map((d) => (d.dimParam ? d.dimParam : toNumber(d.dimValue) > 0 ? toNumber(d.dimValue) : undefined));
      const shown = `[${dims.map((d) => d ?? '?').join(', ')}]`;
      if (dims.length !== 4) throw this.fail(`input "${name}" has shape ${shown}; a 4-D image (NHWC or NCHW) is expected`);
      if (typeof dims[0] === 'number' && dims[0] !== 1) {
        throw this.fail(`input "${name}" has batch size ${dims[0]} (shape ${shown}); only batch size 1 is supported`);
      }
    }
    let layout: 'NHWC' | 'NCHW';
    if (dims && dims[3] === 3 && dims[1] !== 3) layout = 'NHWC';
    else if (dims && dims[1] === 3 && dims[3] !== 3) layout = 'NCHW';
    else layout = this.layoutFromUse();
    const channelDim = layout === 'NHWC' ? dims?.[3] : dims?.[1];
    if (typeof channelDim === 'number' && channelDim !== 3) {
      throw this.fail(
        `input "${name}" has ${channelDim} channels (shape [${dims!.map((d) => d ?? '?').join(', ')}]); PoseNet takes RGB (3)`,
      );
    }
    return layout;
  }

  /** Layout of an input whose shape does not tell: NHWC when a Transpose [0,3,1,2] follows. */
  private layoutFromUse(): 'NHWC' | 'NCHW' {
    const nodes = this.nodes.map((n) => n.node);
    let current = this.inputName;
    // Each step moves to a later node (a topological order has no cycles), so this ends.
    for (let step = 0; step <= nodes.length; step++) {
      const users = nodes.filter((n) => (n.input ?? []).includes(current));
      if (users.length !== 1) return 'NCHW';
      const user = users[0]!;
      if (user.opType === 'Transpose') return samePerm(attrIntsValue(user, 'perm', []), [0, 3, 1, 2]) ? 'NHWC' : 'NCHW';
      if (!['Add', 'Sub', 'Mul', 'Div', 'Identity'].includes(user.opType ?? '')) return 'NCHW';
      current = user.output?.[0] ?? '';
    }
    return 'NCHW';
  }
}

function isExternal(t: TensorProto): boolean {
  return t.dataLocation === onnx.TensorProto.DataLocation.EXTERNAL || (t.externalData ?? []).length > 0;
}

function externalMessage(what: string, name: string): string {
  return `${what} "${name}" keeps its data in an external file; external data is not supported (save the model with its weights inside the .onnx)`;
}
