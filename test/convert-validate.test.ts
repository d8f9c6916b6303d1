/**
 * src/model/validate.ts: a converted manifest passes; each broken field is refused with a
 * message naming the source, the layer and the field.
 */
import { createHash } from 'node:crypto';
import { describe, expect, test } from 'vitest';
import type { Manifest } from '../src/model/manifest.ts';
import { layerGeometry } from '../src/model/layout.ts';
import { fetchWeights, ModelLoadError } from '../src/model/model.ts';
import { checkWeightsSize, checkWeightsValues, ManifestError, validateManifest } from '../src/model/validate.ts';
import { convertOnnxBytes } from '../tools/lib/convert.ts';
import { attrInts } from '../tools/lib/onnx.ts';
import { nhwcInput, TestGraph } from './support/onnx-graphs.ts';

/** A small ResNet-like manifest: conv, maxpool, pointwise/conv with a residual, heads. */
function sample(): Manifest {
  const g = new TestGraph(41);
  let x = nhwcInput(g);
  x = g.relu(g.conv(x, 3, 8, 3, { stride: 2, pads: [1, 1, 1, 1], bias: true, name: 'stem' }));
  x = g.node('MaxPool', [x], [attrInts('kernel_shape', [3, 3]), attrInts('strides', [2, 2]), attrInts('pads', [1, 1, 1, 1])], 'pool');
  let y = g.relu(g.conv(x, 8, 8, 3, { stride: 2, pads: 'SAME_UPPER', depthwise: true, bias: true, name: 'dw' }));
  y = g.conv(y, 8, 24, 1, { bias: true, name: 'Conv_3' });
  const s = g.conv(x, 8, 24, 1, { stride: 2, bias: true, name: 'proj' });
  x = g.relu(g.node('Add', [y, s]));
  g.heads(x, 24);
  return convertOnnxBytes(g.bytes(), 's.onnx', { preprocess: 'resnet' }).manifest;
}

const SRC = 'weights/x/model.json';

function broken(mutate: (m: Manifest & Record<string, unknown>) => void): () => Manifest {
  const m = JSON.parse(JSON.stringify(sample()));
  mutate(m);
  return () => validateManifest(m, SRC);
}

const layer = (m: Manifest, name: string) => m.layers.find((l) => l.name === name)!;

describe('validateManifest', () => {
  test('a converted manifest passes and comes back unchanged', () => {
    const m = sample();
    expect(m.layers.map((l) => `${l.name}:${l.kind}${l.residual ? '+res' : ''}`)).toEqual([
      'stem:conv',
      'pool:maxpool',
      'dw:depthwise',
      'Conv_3:pointwise',
      'proj:pointwise+res',
      'heads:pointwise',
    ]);
    expect(validateManifest(JSON.parse(JSON.stringify(m)), SRC)).toEqual(m);
  });

  const cases: [string, (m: Manifest & Record<string, unknown>) => void, RegExp][] = [
    [
      'not an object',
      (m) => {
        (m as unknown as { layers: unknown }).layers = 3;
      },
      /weights\/x\/model\.json: layers must be a non-empty array, got 3$/,
    ],
    [
      'format',
      (m) => {
        (m as { format: string }).format = 'other';
      },
      /: format must be "posenet-webgpu\/manifest", got "other"/,
    ],
    [
      'version',
      (m) => {
        (m as { version: number }).version = 2;
      },
      /: version must be 1, got 2/,
    ],
    [
      'architecture',
      (m) => {
        (m as { architecture: string }).architecture = 'VGG';
      },
      /: architecture must be one of MobileNetV1, ResNet50, got "VGG"/,
    ],
    [
      'outputStride',
      (m) => {
        (m as { outputStride: number }).outputStride = 4;
      },
      /: outputStride must be 8, 16 or 32, got 4/,
    ],
    [
      'preprocess scale',
      (m) => {
        m.preprocess.scale = [1, 0, 1];
      },
      /: preprocess\.scale must not contain 0/,
    ],
    [
      'input channels',
      (m) => {
        (m.input as { channels: number }).channels = 4;
      },
      /: input\.channels must be 3, got 4/,
    ],
    [
      'weights.length',
      (m) => {
        layer(m, 'Conv_3').weights!.length = 1024;
      },
      /^weights\/x\/model\.json: layer "Conv_3" \(pointwise\): weights\.length 1024 does not match 8→24 f32 packed \(768 bytes\)$/,
    ],
    [
      'bias.length',
      (m) => {
        layer(m, 'dw').bias!.length = 16;
      },
      /: layer "dw" \(depthwise\): bias\.length 16 does not match bias 8 packed \(32 bytes\)$/,
    ],
    [
      'offset alignment',
      (m) => {
        layer(m, 'stem').weights!.offset += 4;
      },
      /: layer "stem" \(conv\): weights\.offset \d+ is not a multiple of 16$/,
    ],
    [
      'outside weights.bin',
      (m) => {
        layer(m, 'heads').bias!.offset = m.weights.bytes;
      },
      /: layer "heads" \(pointwise\): bias \[\d+, \d+\) lies outside weights\.bin \(\d+ bytes\)$/,
    ],
    [
      'overlap',
      (m) => {
        layer(m, 'dw').weights!.offset = layer(m, 'stem').bias!.offset;
      },
      /overlaps layer "stem" bias/,
    ],
    [
      'unknown input',
      (m) => {
        layer(m, 'dw').input = 'nowhere';
      },
      /: layer "dw" \(depthwise\): input tensor "nowhere" is not the input tensor and no earlier layer writes it$/,
    ],
    [
      'channel mismatch',
      (m) => {
        layer(m, 'Conv_3').inChannels = 16;
      },
      /: layer "Conv_3" \(pointwise\): inChannels 16 does not match layer "dw", which writes "[^"]+" with 8 channels$/,
    ],
    [
      'depthwise in != out',
      (m) => {
        layer(m, 'dw').outChannels = 12;
      },
      /: layer "dw" \(depthwise\): inChannels 8 and outChannels 12 must be equal$/,
    ],
    [
      'residual missing',
      (m) => {
        layer(m, 'proj').residual = 'ghost';
      },
      /: layer "proj" \(pointwise\): residual tensor "ghost" is not written by an earlier layer$/,
    ],
    [
      'residual channels',
      (m) => {
        layer(m, 'proj').residual = layer(m, 'pool').output;
      },
      /: layer "proj" \(pointwise\): residual "[^"]+" has 8 channels \(from layer "pool"\), outChannels is 24$/,
    ],
    [
      'residual stride',
      (m) => {
        layer(m, 'proj').stride = [1, 1];
      },
      /: layer "proj" \(pointwise\): residual "[^"]+" has stride 8×8, the layer's output has 4×4$/,
    ],
    [
      'layers out of order',
      (m) => {
        m.layers.reverse();
      },
      /: layer "heads" \(pointwise\): input tensor "[^"]+" is not the input tensor/,
    ],
    [
      'duplicate output',
      (m) => {
        layer(m, 'dw').output = layer(m, 'stem').output;
      },
      /: layer "dw" \(depthwise\): output tensor "[^"]+" is already written by layer "stem"$/,
    ],
    [
      'maxpool with weights',
      (m) => {
        layer(m, 'pool').weights = { offset: 0, length: 16 };
      },
      /: layer "pool" \(maxpool\): a maxpool layer has no weights or bias$/,
    ],
    [
      'depthwise with a residual',
      (m) => {
        layer(m, 'dw').residual = layer(m, 'pool').output;
      },
      /: layer "dw" \(depthwise\): a depthwise layer has no residual$/,
    ],
    [
      'maxpool with dilation',
      (m) => {
        layer(m, 'pool').dilation = [2, 2];
      },
      /: layer "pool" \(maxpool\): dilation must be \[1, 1\], got \[2,2\]$/,
    ],
    [
      'pointwise with a 3×3 kernel',
      (m) => {
        layer(m, 'Conv_3').kernel = [3, 3];
      },
      /: layer "Conv_3" \(pointwise\): kernel must be \[1, 1\], got \[3,3\]$/,
    ],
    [
      'padding mode',
      (m) => {
        layer(m, 'stem').padding.mode = 'same' as 'same_upper';
      },
      /: layer "stem" \(conv\): padding\.mode must be one of same_upper, same_lower, explicit, got "same"$/,
    ],
    [
      'pads with same mode',
      (m) => {
        layer(m, 'dw').padding.pads = [1, 1, 1, 1];
      },
      /: layer "dw" \(depthwise\): padding\.pads must be zeros when padding\.mode is same_upper/,
    ],
    [
      'activation',
      (m) => {
        (layer(m, 'dw') as { activation: string }).activation = 'gelu';
      },
      /: layer "dw" \(depthwise\): activation must be one of none, relu, relu6, got "gelu"$/,
    ],
    [
      'kind',
      (m) => {
        (layer(m, 'dw') as { kind: string }).kind = 'deconv';
      },
      /: layer "dw": kind must be one of conv, depthwise, pointwise, maxpool, got "deconv"$/,
    ],
    [
      'head tensor',
      (m) => {
        m.heads.offsets.tensor = 'nope';
      },
      /: heads\.offsets: tensor "nope" is not written by any layer$/,
    ],
    [
      'head channel offset',
      (m) => {
        m.heads.offsets.channelOffset = 18;
      },
      /: heads\.offsets: channelOffset 18 is not a multiple of 4$/,
    ],
    [
      'head channels',
      (m) => {
        m.heads.heatmap.channels = 18;
      },
      /: heads\.heatmap: channels must be 17, got 18$/,
    ],
    [
      'head outside the tensor',
      (m) => {
        m.heads.displacementBwd.channelOffset = 92;
      },
      /: heads\.displacementBwd: channels \[92, 124\) lie outside "heads" \(120 channels\)$/,
    ],
    [
      'heads overlapping',
      (m) => {
        m.heads.offsets.channelOffset = 16;
      },
      /: heads\.offsets: channels \[16, 50\) overlap heads\.heatmap$/,
    ],
    [
      'head missing',
      (m) => {
        delete (m.heads as Partial<Manifest['heads']>).displacementFwd;
      },
      /: heads\.displacementFwd must be an object, got undefined$/,
    ],
    [
      'stride vs outputStride',
      (m) => {
        (m as { outputStride: number }).outputStride = 16;
      },
      /: heads\.heatmap: tensor "heads" has stride 8×8, outputStride is 16$/,
    ],
    [
      'sha256',
      (m) => {
        m.weights.sha256 = 'abc';
      },
      /: weights\.sha256 must be 64 lowercase hex digits, got "abc"$/,
    ],
    // Issue 8: geometry that made infer run for minutes, names, paths, values JSON cannot show.
    [
      'a maxpool kernel of 1e9',
      (m) => {
        layer(m, 'pool').kernel = [1e9, 1e9];
      },
      /: layer "pool" \(maxpool\): kernel \[1000000000, 1000000000\] is outside 1\.\.15 \(the converter's and the runtime's limit\)$/,
    ],
    [
      'pads of 1e9',
      (m) => {
        layer(m, 'dw').padding = { mode: 'explicit', pads: [1e9, 1e9, 1e9, 1e9] };
      },
      /: layer "dw" \(depthwise\): pads \[1000000000, 1000000000, 1000000000, 1000000000\] is outside 0\.\.64/,
    ],
    [
      'a dilation of 1e9',
      (m) => {
        layer(m, 'stem').dilation = [1e9, 1];
      },
      /: layer "stem" \(conv\): dilation \[1000000000, 1\] is outside 1\.\.16/,
    ],
    [
      'a stride of 1e9',
      (m) => {
        layer(m, 'stem').stride = [1e9, 1e9];
      },
      /: layer "stem" \(conv\): stride \[1000000000, 1000000000\] is outside 1\.\.8/,
    ],
    [
      'channels of 1e9',
      (m) => {
        layer(m, 'pool').inChannels = 1e9;
      },
      /: layer "pool" \(maxpool\): inChannels 1000000000 is outside 1\.\.8192/,
    ],
    [
      'pads within the limits that break the residual add (and so the heads grid)',
      (m) => {
        layer(m, 'dw').padding = { mode: 'explicit', pads: [5, 5, 5, 5] };
      },
      /^weights\/x\/model\.json: layer "dw" \(depthwise\) turns 33×65 into 21×37 \(at input 129×257\), not 17×33 as stride 2×2 should: kernel 3×3, dilation 1×1, padding explicit \[5, 5, 5, 5\]; so layer "proj" \(pointwise\) adds "[^"]+" of 21×37 to its output of 17×33 \(at input 129×257\)$/,
    ],
    [
      'two layers with one name',
      (m) => {
        layer(m, 'Conv_3').name = 'dw';
      },
      /: layer "dw" \(pointwise\): another layer is also named "dw"; layer names must be unique/,
    ],
    [
      'weights.file outside the folder',
      (m) => {
        m.weights.file = '../../../../etc/passwd';
      },
      /: weights\.file must be a file name in the manifest's own folder \(letters, digits, _ \. -\), got "\.\.\/\.\.\/\.\.\/\.\.\/etc\/passwd"$/,
    ],
    [
      'weights.file absolute',
      (m) => {
        m.weights.file = '/etc/passwd';
      },
      /: weights\.file must be a file name in the manifest's own folder/,
    ],
    [
      'weights.file in a subfolder',
      (m) => {
        m.weights.file = 'sub/weights.bin';
      },
      /: weights\.file must be a file name in the manifest's own folder/,
    ],
    [
      'preprocess.mean of 1e999 (Infinity, which JSON prints as null)',
      (m) => {
        m.preprocess.mean = [Number.POSITIVE_INFINITY, 1, 1];
      },
      /: preprocess\.mean\[0\] must be a finite number, got Infinity$/,
    ],
    [
      'preprocess.mean of one value, Infinity',
      (m) => {
        (m.preprocess as unknown as { mean: number[] }).mean = [Number.POSITIVE_INFINITY];
      },
      /: preprocess\.mean must be an array of 3 numbers, got \[Infinity\]$/,
    ],
  ];
  for (const [what, mutate, message] of cases) {
    test(`refuses: ${what}`, () => {
      const run = broken(mutate);
      expect(run).toThrow(ManifestError);
      expect(run).toThrow(message);
    });
  }

  test('a 100,000-deep nested value is a ManifestError with a short picture of it, not a stack overflow', () => {
    const m = JSON.parse(JSON.stringify(sample())) as Record<string, unknown>;
    const deep = JSON.parse(`${'['.repeat(100_000)}${']'.repeat(100_000)}`) as unknown;
    for (const field of ['name', 'layers', 'heads']) {
      const run = () => validateManifest({ ...m, [field]: deep }, SRC);
      expect(run).toThrow(ManifestError);
      expect(run).toThrow(/got \[\[\[\.\.\.\]\]\]$/);
    }
  });

  test('checkWeightsValues names the layer, the array and the element of a NaN or an infinity', () => {
    const m = sample();
    const weights = new ArrayBuffer(m.weights.bytes);
    expect(() => checkWeightsValues(m, weights, 'w.bin')).not.toThrow();
    const dw = layer(m, 'dw');
    new Float32Array(weights)[dw.bias!.offset / 4 + 3] = Number.NaN;
    expect(() => checkWeightsValues(m, weights, 'weights/x/weights.bin')).toThrow(
      new ManifestError(
        `weights/x/weights.bin: layer "dw" (depthwise): bias element 3 (byte ${dw.bias!.offset + 12} of weights.bin) is NaN; weights must be finite`,
      ),
    );
  });

  test('checkWeightsSize', () => {
    const m = sample();
    expect(() => checkWeightsSize(m, m.weights.bytes, 'w.bin')).not.toThrow();
    expect(() => checkWeightsSize(m, m.weights.bytes - 16, 'weights/x/weights.bin')).toThrow(
      new ManifestError(
        `weights/x/weights.bin: weights.bin is ${m.weights.bytes - 16} bytes, the manifest says weights.bytes = ${m.weights.bytes} (f32 weights)`,
      ),
    );
  });
});

describe('layerGeometry', () => {
  const base = { name: 'l', kernel: [3, 3] as [number, number], stride: [2, 2] as [number, number], dilation: [1, 1] as [number, number] };
  test('SAME upper/lower split an odd total padding differently', () => {
    // in 8, stride 2, k 3: out 4, total (4-1)*2+3-8 = 1
    expect(layerGeometry({ ...base, padding: { mode: 'same_upper', pads: [0, 0, 0, 0] } }, 8, 9)).toEqual({
      outHeight: 4,
      outWidth: 5,
      padTop: 0,
      padBottom: 1,
      padLeft: 1,
      padRight: 1,
    });
    expect(layerGeometry({ ...base, padding: { mode: 'same_lower', pads: [0, 0, 0, 0] } }, 8, 9)).toEqual({
      outHeight: 4,
      outWidth: 5,
      padTop: 1,
      padBottom: 0,
      padLeft: 1,
      padRight: 1,
    });
  });
  test('explicit pads and dilation', () => {
    // in 10, k 3 dilated 2 → span 5, pads 2+1, stride 1: out 10 + 3 - 5 + 1 = 9
    expect(layerGeometry({ ...base, stride: [1, 1], dilation: [2, 2], padding: { mode: 'explicit', pads: [2, 0, 1, 0] } }, 10, 10)).toEqual(
      { outHeight: 9, outWidth: 6, padTop: 2, padBottom: 1, padLeft: 0, padRight: 0 },
    );
  });
  test('an input too small throws', () => {
    expect(() => layerGeometry({ ...base, kernel: [7, 7], padding: { mode: 'explicit', pads: [0, 0, 0, 0] } }, 5, 5)).toThrow(/too small/);
  });
});

describe('fetchWeights (the runtime loader)', () => {
  /** Serves `files` (URL → bytes) as fetch does, and records every URL asked for. */
  async function load(files: Record<string, Uint8Array | string>): Promise<{ error: Error | null; fetched: string[] }> {
    const fetched: string[] = [];
    const saved = globalThis.fetch;
    globalThis.fetch = (async (url: string | URL) => {
      fetched.push(String(url));
      const body = files[String(url)];
      if (body === undefined) return new Response('missing', { status: 404, statusText: 'Not Found' });
      return new Response(typeof body === 'string' ? body : new Uint8Array(body), { status: 200 });
    }) as typeof fetch;
    try {
      await fetchWeights('http://host/models/x');
      return { error: null, fetched };
    } catch (err) {
      return { error: err as Error, fetched };
    } finally {
      globalThis.fetch = saved;
    }
  }

  test('a weights.file outside the folder is refused before anything but model.json is fetched', async () => {
    const m = JSON.parse(JSON.stringify(sample())) as Manifest;
    m.weights.file = '../../../../etc/passwd';
    const { error, fetched } = await load({ 'http://host/models/x/model.json': JSON.stringify(m) });
    expect(error).toBeInstanceOf(ModelLoadError);
    expect(error!.message).toMatch(
      /^http:\/\/host\/models\/x\/model\.json: weights\.file must be a file name in the manifest's own folder/,
    );
    expect(fetched).toEqual(['http://host/models/x/model.json']);
  });

  test('a NaN in weights.bin (with a matching sha256) is refused, naming the layer', async () => {
    const m = JSON.parse(JSON.stringify(sample())) as Manifest;
    const weights = new Float32Array(m.weights.bytes / 4);
    weights[layer(m, 'stem').weights!.offset / 4 + 7] = Number.NaN;
    const bytes = new Uint8Array(weights.buffer);
    m.weights.sha256 = createHash('sha256').update(bytes).digest('hex');
    const { error } = await load({ 'http://host/models/x/model.json': JSON.stringify(m), 'http://host/models/x/weights.bin': bytes });
    expect(error).toBeInstanceOf(ModelLoadError);
    expect(error!.message).toMatch(
      /^http:\/\/host\/models\/x\/weights\.bin: layer "stem" \(conv\): weights element 7 \(byte \d+ of weights\.bin\) is NaN/,
    );
  });

  test('a 100,000-deep model.json is a ModelLoadError naming the file', async () => {
    const m = JSON.parse(JSON.stringify(sample())) as Record<string, unknown>;
    const text = JSON.stringify({ ...m, name: '@@' }).replace('"@@"', `${'['.repeat(100_000)}${']'.repeat(100_000)}`);
    const { error } = await load({ 'http://host/models/x/model.json': text });
    expect(error).toBeInstanceOf(ModelLoadError);
    expect(error!.message).toMatch(/^http:\/\/host\/models\/x\/model\.json: name must be a non-empty string, got \[\[\[\.\.\.\]\]\]$/);
  });
});
