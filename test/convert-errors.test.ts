/**
 * tools/convert.ts on bad input, run as a CLI: each case must exit non-zero, print one
 * line that names the file and the node / op / tensor at fault, and leave no output folder
 * (nor a temporary one) behind. Also one successful CLI run, from make-posenet-onnx to a
 * converted folder.
 */
import { spawnSync } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, describe, expect, test } from 'vitest';
import { validateManifest, checkWeightsSize } from '../src/model/validate.ts';
import { attrInt, DataType, makeNode, onnx } from '../tools/lib/onnx.ts';
import { nhwcInput, TestGraph, tinyPoseNet } from './support/onnx-graphs.ts';

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
const tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'convert-errors-'));
afterAll(() => fs.rmSync(tmp, { recursive: true, force: true }));

function runTool(tool: string, args: string[]): { status: number | null; stdout: string; stderr: string } {
  const r = spawnSync(process.execPath, ['--import', 'tsx', path.join(root, 'tools', tool), ...args], { cwd: root, encoding: 'utf8' });
  return { status: r.status, stdout: r.stdout, stderr: r.stderr };
}

/** Writes `bytes` as <name>.onnx, converts it into <name>-out, and checks the failure. */
function expectFailure(name: string, bytes: Uint8Array | string | null, message: RegExp, extraArgs: string[] = []): string {
  const onnxPath = path.join(tmp, `${name}.onnx`);
  if (bytes !== null) fs.writeFileSync(onnxPath, bytes);
  const out = path.join(tmp, `${name}-out`);
  const r = runTool('convert.ts', [onnxPath, '--out', out, ...extraArgs]);
  expect(r.status, r.stderr).not.toBe(0);
  const lines = r.stderr.trim().split('\n');
  expect(lines.length, r.stderr).toBe(1);
  expect(lines[0]).toMatch(message);
  expect(fs.existsSync(out), `${out} exists after a failure`).toBe(false);
  expect(
    fs.readdirSync(tmp).filter((f) => f.startsWith(`.${name}-out`)),
    'temporary folders left',
  ).toEqual([]);
  return lines[0]!;
}

const fileRe = (name: string): string => path.join(tmp, `${name}.onnx`).replace(/[.*+?^${}()|[\]\\]/g, '\\$&');

describe('convert CLI: bad input', () => {
  test('missing file', () => {
    expectFailure('missing', null, new RegExp(`^convert: ${fileRe('missing')}: no such file$`));
  });

  test('missing --out', () => {
    const { g } = tinyPoseNet();
    const onnxPath = path.join(tmp, 'noout.onnx');
    fs.writeFileSync(onnxPath, g.bytes());
    const r = runTool('convert.ts', [onnxPath]);
    expect(r.status).not.toBe(0);
    expect(r.stderr.trim().split('\n')).toHaveLength(1);
    expect(r.stderr).toMatch(/^convert: missing --out <dir>/);
  });

  test('bad --preprocess value', () => {
    const { g } = tinyPoseNet();
    expectFailure('badflag', g.bytes(), /^convert: --preprocess must be mobilenet or resnet, got "imagenet"$/, [
      '--preprocess',
      'imagenet',
    ]);
  });

  test('truncated ONNX file', () => {
    const bytes = tinyPoseNet().g.bytes();
    expectFailure(
      'truncated',
      bytes.subarray(0, Math.floor(bytes.length / 2)),
      new RegExp(`^convert: ${fileRe('truncated')}: not an ONNX model, or a truncated one \\(protobuf decoding failed: `),
    );
  });

  test('not an ONNX file', () => {
    expectFailure('text', 'name,value\nthis is a CSV file,1\n', new RegExp(`^convert: ${fileRe('text')}: not an ONNX model`));
  });

  test('unsupported op on a head (Softmax), named with its node', () => {
    const { g } = tinyPoseNet();
    // heatmap conv → Softmax → Transpose
    const t = g.nodes.find((n) => n.name === 'heatmap_2/Transpose')!;
    const convOut = t.input![0]!;
    g.nodes.splice(g.nodes.indexOf(t), 0, makeNode('Softmax', [convOut], ['heatmap_softmax:0'], 'heatmap_softmax', [attrInt('axis', 1)]));
    t.input = ['heatmap_softmax:0'];
    expectFailure(
      'softmax',
      g.bytes(),
      new RegExp(
        `^convert: ${fileRe('softmax')}: node "heatmap_softmax" \\(Softmax\\): unsupported op Softmax; the converter handles Conv, `,
      ),
    );
  });

  test('unsupported op in the body (Resize), named with its node', () => {
    const { g } = tinyPoseNet();
    const i = g.nodes.findIndex((n) => n.name === 'Conv2d_2_depthwise');
    const x = g.nodes[i]!.input![0]!;
    g.constant('scales', [4], [1, 1, 2, 2]);
    g.nodes.splice(i, 0, makeNode('Resize', [x, '', 'scales'], ['upsampled'], 'upsample', []));
    g.nodes[i + 1]!.input![0] = 'upsampled';
    expectFailure('resize', g.bytes(), /: node "upsample" \(Resize\): unsupported op Resize;/);
  });

  test('missing head', () => {
    const { g } = tinyPoseNet();
    g.outputs = g.outputs.filter((o) => o.name !== 'heatmap_2');
    expectFailure(
      'nohead',
      g.bytes(),
      new RegExp(
        `^convert: ${fileRe('nohead')}: not a PoseNet: no heatmap output \\(17 channels\\); .*found "offset_2" \\(34\\), "displacement_fwd_2" \\(32\\), "displacement_bwd_2" \\(32\\)$`,
      ),
    );
  });

  test('wrong head channel count', () => {
    const { g } = tinyPoseNet(1, { headChannels: { heatmap: 16 } });
    expectFailure(
      'wronghead',
      g.bytes(),
      /: not a PoseNet: graph output "heatmap_2" has 16 channels; the outputs must be heatmap \(17 channels\), offsets \(34\)/,
    );
  });

  test('heads at a stride that is not 8, 16 or 32', () => {
    const g = new TestGraph(3);
    const x = g.relu(g.conv(nhwcInput(g), 3, 8, 3, { stride: 4, pads: 'SAME_UPPER', bias: true, name: 'only' }));
    g.heads(x, 8);
    expectFailure(
      'stride4',
      g.bytes(),
      /: not a PoseNet: the heads read a feature map at stride 4 \(the product of the strides before them\); PoseNet's output stride is 8, 16 or 32$/,
    );
  });

  test('tensor with external data', () => {
    const { g } = tinyPoseNet();
    const w = g.inits.find((t) => t.name === 'Conv2d_1_pointwise/W')!;
    delete w.rawData;
    w.dataLocation = onnx.TensorProto.DataLocation.EXTERNAL;
    w.externalData = [
      { key: 'location', value: 'weights.data' },
      { key: 'offset', value: '0' },
    ];
    expectFailure(
      'external',
      g.bytes(),
      /: initializer "Conv2d_1_pointwise\/W" keeps its data in an external file; external data is not supported/,
    );
  });

  test('non-float32 weights', () => {
    const { g } = tinyPoseNet();
    const w = g.inits.find((t) => t.name === 'Conv2d_0/W')!;
    w.dataType = DataType.FLOAT16;
    w.rawData = new Uint8Array(w.rawData!.length / 2);
    expectFailure('fp16', g.bytes(), /: initializer "Conv2d_0\/W" has data type FLOAT16; only FLOAT \(float32\) weights are supported$/);
  });

  test('batch size other than 1', () => {
    const { g } = tinyPoseNet(1, { inputDims: [2, 'height', 'width', 3] });
    expectFailure(
      'batch2',
      g.bytes(),
      /: input "image" has batch size 2 \(shape \[2, height, width, 3\]\); only batch size 1 is supported$/,
    );
  });

  test('grouped (non-depthwise) convolution', () => {
    const g = new TestGraph(4);
    let x = g.relu(g.conv(nhwcInput(g), 3, 8, 3, { stride: 4, pads: 'SAME_UPPER', bias: true }));
    x = g.relu(g.conv(x, 8, 8, 3, { stride: 2, pads: 'SAME_UPPER', group: 2, name: 'grouped' }));
    g.heads(x, 8);
    expectFailure('grouped', g.bytes(), /: node "grouped" \(Conv\): grouped convolution \(group 2, 8→8 channels\) is not supported/);
  });

  test('a BatchNormalization that cannot be folded (after a pooling layer)', () => {
    const g = new TestGraph(5);
    let x = g.relu(g.conv(nhwcInput(g), 3, 8, 3, { stride: 4, pads: 'SAME_UPPER', bias: true, name: 'c' }));
    x = g.node(
      'MaxPool',
      [x],
      [
        { name: 'kernel_shape', type: 7, ints: [2, 2] },
        { name: 'strides', type: 7, ints: [2, 2] },
      ],
      'pool',
    );
    x = g.batchNorm(x, 8, 'bn_after_pool');
    g.heads(x, 8);
    expectFailure(
      'bnpool',
      g.bytes(),
      /: node "bn_after_pool" \(BatchNormalization\): cannot fold BatchNormalization into node "pool" \(MaxPool\): node "pool" \(MaxPool\) is a pooling layer/,
    );
  });

  test('an existing output folder survives a failed conversion; a successful one adds model.json + weights.bin and keeps the rest', () => {
    const out = path.join(tmp, 'keep-out');
    fs.mkdirSync(out);
    fs.writeFileSync(path.join(out, 'marker.txt'), 'old');
    const bad = path.join(tmp, 'keep-bad.onnx');
    fs.writeFileSync(bad, 'garbage');
    const r = runTool('convert.ts', [bad, '--out', out]);
    expect(r.status).not.toBe(0);
    expect(fs.readdirSync(out)).toEqual(['marker.txt']);
    const good = path.join(tmp, 'keep-good.onnx');
    fs.writeFileSync(good, tinyPoseNet().g.bytes());
    const ok = runTool('convert.ts', [good, '--out', out, '--preprocess', 'mobilenet']);
    expect(ok.status, ok.stderr).toBe(0);
    expect(fs.readdirSync(out).sort()).toEqual(['marker.txt', 'model.json', 'weights.bin']);
    expect(fs.readFileSync(path.join(out, 'marker.txt'), 'utf8')).toBe('old');
  });
});

describe('convert CLI: success', () => {
  test('make-posenet-onnx → convert: model.json + weights.bin, name from the folder, preprocess from the flag', () => {
    const onnxPath = path.join(tmp, 'gen.onnx');
    const made = runTool('make-posenet-onnx.ts', [
      '--arch',
      'mobilenet',
      '--multiplier',
      '0.5',
      '--stride',
      '16',
      '--seed',
      '7',
      '--preprocess',
      'none',
      '--out',
      onnxPath,
    ]);
    expect(made.status, made.stderr).toBe(0);
    expect(made.stdout).toMatch(/wrote .*gen\.onnx \(PoseNet MobileNetV1 0\.5 stride 16/);
    const out = path.join(tmp, 'posenet-test-050-s16');
    const r = runTool('convert.ts', [onnxPath, '--out', out, '--preprocess', 'mobilenet']);
    expect(r.status, r.stderr).toBe(0);
    expect(r.stderr).toBe('');
    expect(r.stdout).toMatch(
      /MobileNetV1, output stride 16, input NHWC, preprocess mobilenet from flag; 28 layers: 1 conv, 13 depthwise, 14 pointwise/,
    );
    const m = validateManifest(JSON.parse(fs.readFileSync(path.join(out, 'model.json'), 'utf8')), 'model.json');
    checkWeightsSize(m, fs.statSync(path.join(out, 'weights.bin')).size, 'weights.bin');
    expect(m.name).toBe('posenet-test-050-s16');
    expect(m.preprocess.from).toBe('flag');
    expect(m.source.file).toBe('gen.onnx');
  });
});
