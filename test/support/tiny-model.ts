/**
 * A tiny MobileNet-shaped PoseNet with seeded random weights, built in memory for the
 * runtime tests that need many frames (tuning, 1,000 frames with resolution switches):
 * a 3x3 stride-2 conv, four depthwise + pointwise pairs (three of stride 2, so output
 * stride 16) and the fused heads, with 16 to 64 channels. Every kernel kind and most
 * variants take part, and a frame costs milliseconds even on SwiftShader.
 */
import type { Layer, Manifest } from '../../src/model/manifest.ts';
import { packBias, packLayer } from '../../src/model/layout.ts';
import { random } from './cpu-ref.ts';

export interface TinyModel {
  manifest: Manifest;
  /** weights.bin */
  weights: Uint8Array;
}

export function tinyPoseNet(seed = 7): TinyModel {
  const r = random(seed);
  const layers: Layer[] = [];
  const chunks: Float32Array[] = [];
  let offset = 0;
  let tensor = 'image';
  let channels = 3;
  const add = (
    kind: 'conv' | 'depthwise' | 'pointwise',
    name: string,
    outC: number,
    stride: number,
    activation: Layer['activation'],
    output?: string,
  ) => {
    const k: [number, number] = kind === 'pointwise' ? [1, 1] : [3, 3];
    const inPer = kind === 'depthwise' ? 1 : channels;
    // Weights scaled by fan-in so activations stay of order 1 through the layers.
    const scale = 1 / Math.sqrt(inPer * k[0] * k[1]);
    const w = Float32Array.from({ length: outC * inPer * k[0] * k[1] }, () => r(-1, 1) * scale * 1.5);
    const b = Float32Array.from({ length: outC }, () => r(-0.2, 0.2));
    const packed = packLayer(kind, w, channels, outC, k);
    const bias = packBias(b, outC);
    const out = output ?? `${name}/out`;
    layers.push({
      name,
      kind,
      input: tensor,
      output: out,
      kernel: k,
      stride: [stride, stride],
      dilation: [1, 1],
      padding: { mode: 'same_upper', pads: [0, 0, 0, 0] },
      activation,
      inChannels: channels,
      outChannels: outC,
      weights: { offset, length: packed.byteLength },
      bias: { offset: offset + packed.byteLength, length: bias.byteLength },
    });
    chunks.push(packed, bias);
    offset += packed.byteLength + bias.byteLength;
    tensor = out;
    channels = outC;
  };
  add('conv', 'tiny/conv0', 16, 2, 'relu6');
  const blocks: [number, number][] = [
    [1, 32],
    [2, 32],
    [2, 64],
    [2, 64],
  ];
  blocks.forEach(([stride, outC], i) => {
    add('depthwise', `tiny/block${i + 1}/depthwise`, channels, stride, 'relu6');
    add('pointwise', `tiny/block${i + 1}/pointwise`, outC, 1, 'relu6');
  });
  add('pointwise', 'tiny/heads', 120, 1, 'none', 'heads');
  const weights = new Uint8Array(offset);
  let at = 0;
  for (const ch of chunks) {
    weights.set(new Uint8Array(ch.buffer, ch.byteOffset, ch.byteLength), at);
    at += ch.byteLength;
  }
  const head = (channelOffset: number, n: number, sourceName: string) => ({ tensor: 'heads', channelOffset, channels: n, sourceName });
  const manifest: Manifest = {
    format: 'posenet-webgpu/manifest',
    version: 1,
    name: `tiny-posenet-${seed}`,
    architecture: 'MobileNetV1',
    outputStride: 16,
    input: { sourceName: 'image', sourceLayout: 'NHWC', tensor: 'image', channels: 3 },
    preprocess: { kind: 'mobilenet', mean: [127.5, 127.5, 127.5], scale: [1 / 127.5, 1 / 127.5, 1 / 127.5], from: 'flag' },
    layers,
    heads: {
      heatmap: head(0, 17, 'heatmap'),
      offsets: head(20, 34, 'offsets'),
      displacementFwd: head(56, 32, 'fwd'),
      displacementBwd: head(88, 32, 'bwd'),
    },
    weights: { file: 'weights.bin', bytes: offset, sha256: `tiny${seed}`.padEnd(64, '0') },
    source: { file: 'tiny', sha256: '' },
  };
  return { manifest, weights };
}
