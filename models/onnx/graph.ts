import { ProtoWriter } from './protobuf.ts';

// Field numbers from onnx/onnx.proto (IR version 8, opset 17). Only the fields a feed-forward
// float32 graph needs are written.
const MODEL = { irVersion: 1, producerName: 2, producerVersion: 3, docString: 6, graph: 7, opsetImport: 8 } as const;
const OPSET = { domain: 1, version: 2 } as const;
const GRAPH = { node: 1, name: 2, initializer: 5, docString: 10, input: 11, output: 12 } as const;
const NODE = { input: 1, output: 2, name: 3, opType: 4, attribute: 5 } as const;
const ATTR = { name: 1, f: 2, i: 3, s: 4, floats: 7, ints: 8, type: 20 } as const;
const ATTR_TYPE = { FLOAT: 1, INT: 2, STRING: 3, FLOATS: 6, INTS: 7 } as const;
const TENSOR = { dims: 1, dataType: 2, name: 8, rawData: 9 } as const;
const VALUE_INFO = { name: 1, type: 2 } as const;
const TYPE = { tensorType: 1 } as const;
const TENSOR_TYPE = { elemType: 1, shape: 2 } as const;
const SHAPE = { dim: 1 } as const;
const DIM = { value: 1, param: 2 } as const;

/** ONNX TensorProto.DataType codes used here. */
export const ONNX_FLOAT = 1;
export const ONNX_INT64 = 7;

/** The ONNX IR version written (8 pairs with opset 17). */
export const ONNX_IR_VERSION = 8;
/** The default-domain opset the graphs declare. */
export const ONNX_OPSET = 17;

/** A node attribute value: number (int unless `{ f }`), float, string, or int/float lists. */
export type AttrValue = number | { f: number } | string | number[] | { floats: number[] };

/** A graph input/output dimension: a fixed size or a symbolic name such as `'batch'`. */
export type Dim = number | string;

interface Initializer { name: string; dims: number[]; data: Float32Array | BigInt64Array }
interface Node { op: string; inputs: string[]; outputs: string[]; name: string; attrs: Record<string, AttrValue> }
interface ValueInfo { name: string; dims: Dim[] }

/** Builds an ONNX ModelProto: add initializers, nodes, inputs and outputs, then `toBytes()`. */
export class OnnxGraphBuilder {
  private readonly inits: Initializer[] = [];
  private readonly nodes: Node[] = [];
  private readonly inputs: ValueInfo[] = [];
  private readonly outputs: ValueInfo[] = [];
  private readonly names = new Set<string>();
  private seq = 0;

  constructor(private readonly graphName: string) {}

  private claim(name: string): string {
    if (this.names.has(name)) throw new Error(`ONNX graph '${this.graphName}': value name '${name}' is defined twice`);
    this.names.add(name);
    return name;
  }

  /** Adds a float32 constant tensor (weights) and returns its name. */
  floatTensor(name: string, dims: number[], data: Float32Array): string {
    const n = dims.reduce((a, b) => a * b, 1);
    if (n !== data.length) throw new Error(`ONNX initializer '${name}': dims [${dims}] hold ${n} values, data has ${data.length}`);
    this.inits.push({ name: this.claim(name), dims, data });
    return name;
  }

  /** Adds an int64 constant tensor (shapes, axes, slice bounds) and returns its name. */
  int64Tensor(name: string, values: number[]): string {
    this.inits.push({ name: this.claim(name), dims: [values.length], data: BigInt64Array.from(values.map(BigInt)) });
    return name;
  }

  /** Declares a float32 graph input. */
  input(name: string, dims: Dim[]): string {
    this.inputs.push({ name: this.claim(name), dims });
    return name;
  }

  /** Declares a float32 graph output (an existing value name). */
  output(name: string, dims: Dim[]): void {
    if (!this.names.has(name)) throw new Error(`ONNX graph '${this.graphName}': output '${name}' is not produced by any node`);
    this.outputs.push({ name, dims });
  }

  /** Adds a node; `outputs` may name new values, or pass a number to get that many generated names. Returns the output names. */
  node(op: string, inputs: string[], outputs: string[] | number = 1, attrs: Record<string, AttrValue> = {}): string[] {
    for (const i of inputs) if (i !== '' && !this.names.has(i)) throw new Error(`ONNX node ${op}: input '${i}' is not defined yet`);
    const outs = typeof outputs === 'number' ? Array.from({ length: outputs }, (_, k) => `${op.toLowerCase()}_${this.seq}_${k}`) : outputs;
    for (const o of outs) this.claim(o);
    this.nodes.push({ op, inputs, outputs: outs, name: `${op}_${this.seq++}`, attrs });
    return outs;
  }

  /** Returns the serialized ModelProto. */
  toBytes(opts: { producer?: string; producerVersion?: string; doc?: string } = {}): Uint8Array {
    const w = new ProtoWriter();
    w.int(MODEL.irVersion, ONNX_IR_VERSION);
    w.string(MODEL.producerName, opts.producer ?? 'cobalt');
    w.string(MODEL.producerVersion, opts.producerVersion ?? '1');
    if (opts.doc) w.string(MODEL.docString, opts.doc);
    w.message(MODEL.graph, (g) => this.writeGraph(g));
    w.message(MODEL.opsetImport, (o) => o.string(OPSET.domain, '').int(OPSET.version, ONNX_OPSET));
    return w.finish();
  }

  private writeGraph(g: ProtoWriter): void {
    for (const n of this.nodes) g.message(GRAPH.node, (w) => writeNode(w, n));
    g.string(GRAPH.name, this.graphName);
    for (const t of this.inits) g.message(GRAPH.initializer, (w) => writeTensor(w, t));
    for (const v of this.inputs) g.message(GRAPH.input, (w) => writeValueInfo(w, v));
    for (const v of this.outputs) g.message(GRAPH.output, (w) => writeValueInfo(w, v));
  }
}

function writeNode(w: ProtoWriter, n: Node): void {
  for (const i of n.inputs) w.string(NODE.input, i);
  for (const o of n.outputs) w.string(NODE.output, o);
  w.string(NODE.name, n.name);
  w.string(NODE.opType, n.op);
  for (const [name, v] of Object.entries(n.attrs)) w.message(NODE.attribute, (a) => writeAttr(a, name, v));
}

function writeAttr(a: ProtoWriter, name: string, v: AttrValue): void {
  a.string(ATTR.name, name);
  if (typeof v === 'number') {
    if (!Number.isInteger(v)) throw new Error(`ONNX attribute '${name}': ${v} is not an integer (wrap floats as { f })`);
    a.int(ATTR.i, v).int(ATTR.type, ATTR_TYPE.INT);
  } else if (typeof v === 'string') {
    a.string(ATTR.s, v).int(ATTR.type, ATTR_TYPE.STRING);
  } else if (Array.isArray(v)) {
    for (const x of v) a.int(ATTR.ints, x);
    a.int(ATTR.type, ATTR_TYPE.INTS);
  } else if ('f' in v) {
    a.float(ATTR.f, v.f).int(ATTR.type, ATTR_TYPE.FLOAT);
  } else {
    for (const x of v.floats) a.float(ATTR.floats, x);
    a.int(ATTR.type, ATTR_TYPE.FLOATS);
  }
}

function writeTensor(w: ProtoWriter, t: Initializer): void {
  for (const d of t.dims) w.int(TENSOR.dims, d);
  w.int(TENSOR.dataType, t.data instanceof Float32Array ? ONNX_FLOAT : ONNX_INT64);
  w.string(TENSOR.name, t.name);
  w.bytes(TENSOR.rawData, littleEndianBytes(t.data));
}

function writeValueInfo(w: ProtoWriter, v: ValueInfo): void {
  w.string(VALUE_INFO.name, v.name);
  w.message(VALUE_INFO.type, (ty) =>
    ty.message(TYPE.tensorType, (tt) => {
      tt.int(TENSOR_TYPE.elemType, ONNX_FLOAT);
      tt.message(TENSOR_TYPE.shape, (s) => {
        for (const d of v.dims) s.message(SHAPE.dim, (dm) => (typeof d === 'number' ? dm.int(DIM.value, d) : dm.string(DIM.param, d)));
      });
    }),
  );
}

// ONNX raw_data is little endian regardless of host; copy through a DataView so a big-endian host is right too.
function littleEndianBytes(data: Float32Array | BigInt64Array): Uint8Array {
  const out = new Uint8Array(data.length * data.BYTES_PER_ELEMENT);
  const dv = new DataView(out.buffer);
  if (data instanceof Float32Array) for (let i = 0; i < data.length; i++) dv.setFloat32(i * 4, data[i], true);
  else for (let i = 0; i < data.length; i++) dv.setBigInt64(i * 8, data[i], true);
  return out;
}
