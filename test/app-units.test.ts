/**
 * The demo page's pure parts, in Node: pass-name shortening for the profiler panel, the
 * Chrome trace export, resolution presets per output stride.
 */
import { describe, expect, it } from 'vitest';
import type { FrameRecord } from '../src/app/app.ts';
import { RESOLUTION_PRESETS, validPresets } from '../src/app/controls.ts';
import { buildTrace, sortedByCost, tuningText, type PassRow } from '../src/app/metrics.ts';
import { shortPassNames } from '../src/app/profiler-panel.ts';

describe('app helpers', () => {
  it('shortens pass names without losing which layer is which', () => {
    const names = [
      'preprocess',
      'conv2d MobilenetV1/MobilenetV1/Conv2d_0/Relu6',
      'depthwise MobilenetV1/MobilenetV1/Conv2d_1_depthwise/BatchNorm/batchnorm/add_1/conv',
      'pointwise MobilenetV1/MobilenetV1/Conv2d_1_pointwise/Relu6',
      'pointwise heads',
      'decode_single',
    ];
    expect(shortPassNames(names)).toEqual([
      { kernel: 'preprocess', layer: '' },
      { kernel: 'conv2d', layer: 'Conv2d_0' },
      { kernel: 'depthwise', layer: 'Conv2d_1_depthwise' },
      { kernel: 'pointwise', layer: 'Conv2d_1_pointwise' },
      { kernel: 'pointwise', layer: 'heads' },
      { kernel: 'decode_single', layer: '' },
    ]);
    // The flip test's mirrored passes keep their kernel and layer, marked as mirrored.
    expect(shortPassNames([...names, ...names.slice(0, 4).map((n) => `mirrored ${n}`), 'flip_average']).slice(names.length)).toEqual([
      { kernel: 'preprocess', layer: '(mirrored)' },
      { kernel: 'conv2d', layer: 'Conv2d_0 (mirrored)' },
      { kernel: 'depthwise', layer: 'Conv2d_1_depthwise (mirrored)' },
      { kernel: 'pointwise', layer: 'Conv2d_1_pointwise (mirrored)' },
      { kernel: 'flip_average', layer: '' },
    ]);
    const resnet = shortPassNames([
      'conv2d resnet_v1_50/conv1/Relu',
      'maxpool resnet_v1_50/pool1/MaxPool',
      'conv2d resnet_v1_50/block1/unit_1/bottleneck_v1/conv1/Relu',
    ]);
    expect(resnet.map((r) => r.layer)).toEqual(['conv1', 'pool1', 'block1/unit_1/bottleneck_v1/conv1']);
  });

  it('keeps the presets that are k*stride+1', () => {
    expect(validPresets(16)).toEqual([...RESOLUTION_PRESETS]);
    expect(validPresets(8)).toEqual([...RESOLUTION_PRESETS]);
    expect(validPresets(32)).toEqual([161, 257, 321, 481, 641, 801]);
    expect(validPresets(10)).toEqual([161, 321, 481, 641, 801]);
  });

  it('exports one complete event per pass per frame, on one clock, newest device only', () => {
    const rec = (frame: number, generation: number, startMs: number): FrameRecord => ({
      frame,
      source: 'image: a.png',
      mediaTime: null,
      warmup: false,
      width: 257,
      height: 257,
      model: 'm',
      mode: 'single',
      gpuMs: 3,
      passSumMs: 3,
      encodeMs: 0.1,
      latencyMs: 5,
      endToEndMs: 5,
      t: frame * 10,
      gpuBytes: 1,
      gpuBufferBytes: 1,
      poses: 1,
      generation,
      profile: {
        startMs,
        totalGpuMs: 3,
        passes: [
          { name: 'preprocess', startMs: 0, durationMs: 1 },
          { name: 'decode_single', variant: 'default', startMs: 1.5, durationMs: 1.5 },
        ],
      },
    });
    const history = [rec(1, 1, 500), rec(2, 2, 1000), rec(3, 2, 1020), rec(4, 2, 1040)];
    const trace = buildTrace(history, 2);
    const events = trace.traceEvents.filter((e) => e.ph === 'X');
    expect(events.map((e) => [e.name, e.ts, e.dur, (e.args as { frame: number }).frame])).toEqual([
      ['preprocess', 0, 1000, 3],
      ['decode_single [default]', 1500, 1500, 3],
      ['preprocess', 20000, 1000, 4],
      ['decode_single [default]', 21500, 1500, 4],
    ]);
    expect((events[1]!.args as { variant: string }).variant).toBe('default');
    expect(JSON.parse(JSON.stringify(trace)).displayTimeUnit).toBe('ms');
    expect(buildTrace(history).traceEvents.filter((e) => e.ph === 'X')).toHaveLength(6);
  });

  it('says tuning (n/m) while tuning runs, nothing once tuned or off', () => {
    const p = { frame: 3, frames: 18, timing: 'pass' as const, storeError: null };
    expect(tuningText({ ...p, state: 'tuning' })).toBe('tuning (3/18)');
    expect(tuningText({ ...p, state: 'compiling', frame: 0 })).toBe('tuning (0/18): compiling variants');
    expect(tuningText({ ...p, state: 'tuned' })).toBeNull();
    expect(tuningText({ ...p, state: 'off' })).toBeNull();
    expect(tuningText(null)).toBeNull();
  });

  it('sorts passes by cost, plan order breaking ties', () => {
    const row = (index: number, meanMs: number): PassRow => ({
      index,
      meanMs,
      name: `p${index}`,
      shapes: '',
      sdMs: 0,
      lastMs: meanMs,
      samples: 1,
      share: 0,
    });
    expect(sortedByCost([row(0, 1), row(1, 3), row(2, 1), row(3, 2)]).map((r) => r.index)).toEqual([1, 3, 0, 2]);
  });
});
