/**
 * Broken models that the converter used to accept (or blame on itself), issue 8: each is
 * now refused with one line naming the file, the node and the tensor or value at fault.
 * Hand-built graphs (test/support/onnx-graphs.ts), converted in memory.
 */
import { describe, expect, test } from 'vitest';
import { GEOMETRY_LIMITS } from '../src/model/layout.ts';
import { ConvertError, convertOnnxBytes } from '../tools/lib/convert.ts';
import { attrInts, floatTensor, makeNode } from '../tools/lib/onnx.ts';
import { tinyPoseNet, type TestGraph } from './support/onnx-graphs.ts';

/** Sets element `index` of the float initializer `name` to `value`. */
function poke(g: TestGraph, name: string, index: number, value: number): void {
  const t = g.inits.find((i) => i.name === name);
  if (!t) throw new Error(`no initializer ${name}`);
  const raw = t.rawData!;
  new DataView(raw.buffer, raw.byteOffset, raw.byteLength).setFloat32(index * 4, value, true);
}

function refusal(g: TestGraph): string {
  try {
    convertOnnxBytes(g.bytes(), 'broken.onnx', { preprocess: 'mobilenet' });
  } catch (e) {
    expect(e).toBeInstanceOf(ConvertError);
    const message = (e as Error).message;
    expect(message.split('\n'), 'one line').toHaveLength(1);
    expect(message.startsWith('broken.onnx: '), message).toBe(true);
    return message;
  }
  throw new Error('the broken model converted');
}

const convNode = (g: TestGraph, name: string) => g.nodes.find((n) => n.name === name)!;

describe('convert: non-finite values', () => {
  test('a NaN in a conv weight names the node and the initializer', () => {
    const { g } = tinyPoseNet();
    poke(g, 'Conv2d_1_depthwise/W', 5, Number.NaN);
    expect(refusal(g)).toBe(
      'broken.onnx: node "Conv2d_1_depthwise" (Conv): weight "Conv2d_1_depthwise/W" holds NaN at element 5 of [8, 1, 3, 3]; weights must be finite',
    );
  });

  test('an Inf in a bias names the node and the bias', () => {
    const { g } = tinyPoseNet();
    poke(g, 'heatmap_2/Conv/B', 3, Number.POSITIVE_INFINITY);
    expect(refusal(g)).toBe(
      'broken.onnx: node "heatmap_2/Conv" (Conv): bias "heatmap_2/Conv/B" holds Infinity at element 3 of [17]; weights must be finite',
    );
  });

  test('a Div by a zero constant after a conv names the Div, the constant and the channel', () => {
    const { g } = tinyPoseNet();
    // Conv2d_1_pointwise → Div(by 0 in channel 9) → its BatchNormalization.
    const conv = convNode(g, 'Conv2d_1_pointwise');
    const out = conv.output![0]!;
    const reader = g.nodes.find((n) => n.input?.[0] === out)!;
    const divisor = new Float32Array(16).fill(2);
    divisor[9] = 0;
    g.inits.push(floatTensor('divisor', [1, 16, 1, 1], divisor));
    g.nodes.splice(g.nodes.indexOf(conv) + 1, 0, makeNode('Div', [out, 'divisor'], ['divided'], 'scale_div'));
    reader.input![0] = 'divided';
    expect(refusal(g)).toBe('broken.onnx: node "scale_div" (Div): divides by constant "divisor", which is 0 at channel 9');
  });

  test('a BatchNormalization with a negative variance names the node, the tensor and the channel', () => {
    const { g } = tinyPoseNet();
    const bn = g.nodes.find((n) => n.opType === 'BatchNormalization' && n.input?.[0] === convNode(g, 'Conv2d_0').output![0])!;
    poke(g, bn.input![4]!, 2, -5);
    expect(refusal(g)).toMatch(
      new RegExp(
        `^broken\\.onnx: node "${bn.name}" \\(BatchNormalization\\): var "${bn.input![4]}" \\+ epsilon is -4\\.99\\d* at channel 2; it must be > 0`,
      ),
    );
  });

  test('a Mul that overflows float32 after folding names the conv and what was folded into it', () => {
    const { g } = tinyPoseNet();
    const conv = convNode(g, 'Conv2d_2_pointwise');
    const out = conv.output![0]!;
    const reader = g.nodes.find((n) => n.input?.[0] === out)!;
    g.inits.push(floatTensor('huge', [], [3e38]));
    g.nodes.splice(g.nodes.indexOf(conv) + 1, 0, makeNode('Mul', [out, 'huge'], ['scaled'], 'huge_mul'));
    reader.input![0] = 'scaled';
    expect(refusal(g)).toMatch(
      /^broken\.onnx: node "Conv2d_2_pointwise" \(Conv\): its folded weights hold -?[\d.e+]+ beyond float32's range \(infinite once packed\), after folding node "huge_mul" \(Mul\)/,
    );
  });
});

describe('convert: geometry', () => {
  test('pads of 1e9 on a depthwise conv are refused at once, naming the node', () => {
    const { g } = tinyPoseNet();
    const dw = convNode(g, 'Conv2d_2_depthwise');
    dw.attribute = [...dw.attribute!.filter((a) => a.name !== 'pads' && a.name !== 'auto_pad'), attrInts('pads', [1e9, 1e9, 1e9, 1e9])];
    expect(refusal(g)).toBe(
      `broken.onnx: node "Conv2d_2_depthwise" (Conv): pads [1000000000, 1000000000, 1000000000, 1000000000] is outside 0..${GEOMETRY_LIMITS.pad} (the converter's and the runtime's limit)`,
    );
  });

  test('a stride, dilation or max-pool kernel beyond the limits is refused', () => {
    for (const [attr, value, field] of [
      ['strides', 1e9, 'stride'],
      ['dilations', 1e9, 'dilation'],
    ] as const) {
      const { g } = tinyPoseNet();
      const conv = convNode(g, 'Conv2d_0');
      conv.attribute = [...conv.attribute!.filter((a) => a.name !== attr), attrInts(attr, [value, value])];
      expect(refusal(g)).toMatch(new RegExp(`node "Conv2d_0" \\(Conv\\): ${field} \\[1000000000, 1000000000\\] is outside`));
    }
    const { g } = tinyPoseNet();
    const pw = convNode(g, 'Conv2d_1_pointwise');
    const out = pw.output![0]!;
    const reader = g.nodes.find((n) => n.input?.[0] === out)!;
    g.nodes.splice(
      g.nodes.indexOf(reader) + 1,
      0,
      makeNode('MaxPool', [reader.output![0]!], ['pooled'], 'big_pool', [attrInts('kernel_shape', [1e9, 1e9])]),
    );
    for (const n of g.nodes) if (n.opType !== 'MaxPool' && n.input?.[0] === reader.output![0]) n.input![0] = 'pooled';
    expect(refusal(g)).toMatch(/node "big_pool" \(MaxPool\): kernel \[1000000000, 1000000000\] is outside 1\.\.15/);
  });

  test('pads within the limits that change the heads grid name the node and the sizes', () => {
    const { g } = tinyPoseNet();
    const dw = convNode(g, 'Conv2d_2_depthwise');
    dw.attribute = [...dw.attribute!.filter((a) => a.name !== 'pads' && a.name !== 'auto_pad'), attrInts('pads', [5, 5, 5, 5])];
    expect(refusal(g)).toBe(
      'broken.onnx: node "Conv2d_2_depthwise" (Conv) turns 33×65 into 21×37 (at input 129×257), not 17×33 as stride 2×2 should: ' +
        'kernel 3×3, dilation 1×1, padding explicit [5, 5, 5, 5]; the heads grid is 21×37 at input 129×257, not 17×33 (output stride 8); ' +
        "a PoseNet's layers keep every feature map at ceil(input / stride)",
    );
  });
});

describe('convert: malformed graphs blame the input and name the nodes', () => {
  test('a cycle names the nodes on it, not a head', () => {
    const { g } = tinyPoseNet();
    // Conv2d_0 reads the output of the pointwise conv after it: a loop through four nodes.
    const first = convNode(g, 'Conv2d_0');
    const later = convNode(g, 'Conv2d_1_pointwise');
    first.input![0] = later.output![0]!;
    const message = refusal(g);
    expect(message).toMatch(/^broken\.onnx: graph output "[^"]+" cannot be computed: the graph has a cycle: /);
    expect(message).toContain('node "Conv2d_0" (Conv)');
    expect(message).toContain('node "Conv2d_1_pointwise" (Conv)');
    expect(message).toContain('(each reads the output of the next)');
  });

  test('two nodes writing one tensor are both named', () => {
    const { g } = tinyPoseNet();
    const a = convNode(g, 'Conv2d_1_pointwise');
    const b = convNode(g, 'Conv2d_2_pointwise');
    b.output = [...a.output!];
    expect(refusal(g)).toBe(
      `broken.onnx: node "Conv2d_1_pointwise" (Conv) and node "Conv2d_2_pointwise" (Conv) both write tensor "${a.output![0]}"; in a valid ONNX graph every tensor has one writer`,
    );
  });

  test('a node writing over an initializer or the input is refused', () => {
    const { g } = tinyPoseNet();
    convNode(g, 'Conv2d_0').output = ['Conv2d_1_pointwise/W'];
    expect(refusal(g)).toBe('broken.onnx: node "Conv2d_0" (Conv) writes tensor "Conv2d_1_pointwise/W", which is also an initializer');
  });

  test('two initializers with one name are refused, naming it', () => {
    const { g } = tinyPoseNet();
    const w = g.inits.find((t) => t.name === 'Conv2d_0/W')!;
    g.inits.push({ ...w });
    expect(refusal(g)).toBe('broken.onnx: two initializers are named "Conv2d_0/W"; in a valid ONNX graph every tensor has one name');
  });

  test('a tensor nobody writes is named with the node that reads it', () => {
    const { g } = tinyPoseNet();
    convNode(g, 'Conv2d_2_depthwise').input![0] = 'ghost';
    expect(refusal(g)).toMatch(
      /cannot be computed: node "Conv2d_2_depthwise" \(Conv\) reads tensor "ghost", which no node writes and which is neither the input nor an initializer$/,
    );
  });

  test('two nodes with one name convert to layers with unique names, with a note', () => {
    const { g } = tinyPoseNet();
    convNode(g, 'Conv2d_2_depthwise').name = 'Conv2d_1_depthwise';
    const { manifest, notes } = convertOnnxBytes(g.bytes(), 'dup.onnx', { preprocess: 'mobilenet' });
    const names = manifest.layers.map((l) => l.name);
    expect(new Set(names).size).toBe(names.length);
    expect(names).toContain('Conv2d_1_depthwise');
    expect(names).toContain('Conv2d_1_depthwise_1');
    expect(notes.join('\n')).toMatch(/two layers are named "Conv2d_1_depthwise"; .* is called "Conv2d_1_depthwise_1" in the manifest/);
  });
});
