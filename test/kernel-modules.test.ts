/**
 * The kernel modules as data, in Node (no GPU): uniform layouts follow WGSL's alignment
 * rules and generate both sides, every variant's WGSL reads weights only through the one
 * accessor and keeps its register tile in named variables, dispatches fold past the
 * per-dimension limit, and compile errors name kernel, variant and line.
 */
import { describe, expect, it } from 'vitest';

import { describeCompileMessage } from '../src/gpu/kernels.ts';
import { KERNEL_MODULES, KERNEL_NAMES, layerKernel } from '../src/kernels/index.ts';
import { dispatchSize, foldWorkgroups, variantSource } from '../src/kernels/kernel.ts';
import { UniformLayout } from '../src/kernels/uniforms.ts';
import type { Layer } from '../src/model/manifest.ts';
import type { LayerShape } from '../src/plan/shapes.ts';

describe('uniform layouts', () => {
  it('places fields by WGSL alignment and pads the struct to 16 bytes', () => {
    const u = new UniformLayout('P', [
      ['a', 'u32'],
      ['b', 'f32'],
      ['c', 'i32'],
      ['v', 'vec2f'],
      ['m', 'vec4f'],
      ['z', 'u32'],
    ] as const);
    expect(u.fields.map((f) => [f.name, f.offset])).toEqual([
      ['a', 0],
      ['b', 4],
      ['c', 8],
      ['v', 16],
      ['m', 32],
      ['z', 48],
    ]);
    expect(u.bytes).toBe(64);
    expect(u.wgsl()).toBe('struct P {\n  a: u32,\n  b: f32,\n  c: i32,\n  v: vec2f,\n  m: vec4f,\n  z: u32,\n}');
  });

  it('writes each field at its offset with its type, and refuses values that do not fit', () => {
    const u = new UniformLayout('P', [
      ['n', 'u32'],
      ['s', 'i32'],
      ['f', 'f32'],
      ['v', 'vec2f'],
    ] as const);
    const view = new DataView(new ArrayBuffer(64));
    u.write(view, 16, { n: 7, s: -3, f: 0.5, v: [1.5, -2] });
    expect(view.getUint32(16, true)).toBe(7);
    expect(view.getInt32(20, true)).toBe(-3);
    expect(view.getFloat32(24, true)).toBe(0.5);
    expect([view.getFloat32(32, true), view.getFloat32(36, true)]).toEqual([1.5, -2]);
    expect(() => u.write(view, 0, { n: -1 })).toThrow(/P\.n = -1 is not a u32/);
    expect(() => u.write(view, 0, { n: 1.5 })).toThrow(/P\.n = 1.5 is not a u32/);
    expect(() => u.write(view, 0, { v: [1] })).toThrow(/P\.v \(vec2f\) given 1 values/);
    expect(() => u.write(view, 0, { f: [1, 2] })).toThrow(/P\.f \(f32\) given 2 values/);
    expect(() => u.set(view, 0, 'nope' as 'n', 1)).toThrow(/P has no field "nope"/);
  });

  it('every kernel struct matches its generated WGSL and is a multiple of 16 bytes', () => {
    for (const name of KERNEL_NAMES) {
      const k = KERNEL_MODULES[name];
      expect(k.uniforms.bytes % 16, name).toBe(0);
      for (const v of k.variants) expect(variantSource(k, v.name), `${name}/${v.name}`).toContain(k.uniforms.wgsl());
    }
  });
});

describe('generated WGSL', () => {
  const all = KERNEL_NAMES.flatMap((name) => KERNEL_MODULES[name].variants.map((v) => ({ name, variant: v.name })));

  it('lists at least 4 pointwise, 3 depthwise and 2 conv2d variants, one of them on subgroups', () => {
    expect(KERNEL_MODULES.pointwise.variants.length).toBeGreaterThanOrEqual(4);
    expect(KERNEL_MODULES.depthwise.variants.length).toBeGreaterThanOrEqual(3);
    expect(KERNEL_MODULES.conv2d.variants.length).toBeGreaterThanOrEqual(2);
    expect(KERNEL_MODULES.pointwise.variants.some((v) => v.features?.includes('subgroups'))).toBe(true);
  });

  it('reads every weight, bias and scale through the generated accessors (the one place a weight format changes)', () => {
    for (const { name, variant } of all) {
      const text = variantSource(KERNEL_MODULES[name], variant);
      const body = text.slice(text.indexOf('// ---- end of the generated interface ----'));
      const direct = body.split('\n').filter((l) => /\bw\[/.test(l));
      expect(direct, `${name}/${variant} reads w[] directly`).toEqual([]);
    }
  });

  it('keeps register tiles in named variables, never function-scope arrays (SwiftShader keeps those in memory)', () => {
    for (const { name, variant } of all) {
      const text = variantSource(KERNEL_MODULES[name], variant);
      expect(text, `${name}/${variant}`).not.toMatch(/\bvar\s+\w+\s*:\s*array</);
      expect(text, `${name}/${variant}`).not.toMatch(/\bvar\s+\w+\s*=\s*array</);
    }
  });

  it('places no barrier after an early return (barriers in uniform control flow)', () => {
    for (const { name, variant } of all) {
      const text = variantSource(KERNEL_MODULES[name], variant);
      const main = text.slice(text.indexOf('fn main('));
      const barrier = main.indexOf('workgroupBarrier');
      if (barrier < 0) continue;
      if (name === 'decode_single') continue; // its one barrier precedes every return
      expect(main.slice(0, barrier), `${name}/${variant}`).not.toMatch(/\breturn\b/);
    }
  });

  it('declares subgroups only in the variants that need it', () => {
    for (const { name, variant } of all) {
      const v = KERNEL_MODULES[name].variants.find((x) => x.name === variant)!;
      const text = variantSource(KERNEL_MODULES[name], variant);
      expect(text.includes('enable subgroups;'), `${name}/${variant}`).toBe(!!v.features?.includes('subgroups'));
    }
  });
});

function shape(
  kind: Layer['kind'],
  o: Partial<Layer> & { inW: number; inH: number; outW: number; outH: number; inC: number; outC: number },
): LayerShape {
  const layer: Layer = {
    name: 'l',
    kind,
    input: 'x',
    output: 'y',
    kernel: kind === 'pointwise' ? [1, 1] : [3, 3],
    stride: [1, 1],
    dilation: [1, 1],
    padding: { mode: 'same_upper', pads: [0, 0, 0, 0] },
    activation: 'relu6',
    inChannels: o.inC,
    outChannels: o.outC,
    weights: { offset: 0, length: 16 },
    bias: { offset: 16, length: 16 },
    ...o,
  };
  return {
    layer,
    input: { w: o.inW, h: o.inH, c: o.inC, c4: Math.ceil(o.inC / 4) },
    output: { w: o.outW, h: o.outH, c: o.outC, c4: Math.ceil(o.outC / 4) },
    pads: [1, 1, 1, 1],
    weightFormat: 'f32',
  };
}

describe('dispatch', () => {
  it('folds a workgroup count past the per-dimension limit into x and y, covering it with less than a row spare', () => {
    expect(foldWorkgroups(100, 65535)).toEqual([100, 1, 1]);
    expect(foldWorkgroups(0, 65535)).toEqual([1, 1, 1]);
    const [x, y] = foldWorkgroups(200_000, 65535);
    expect(x).toBeLessThanOrEqual(65535);
    expect(x * y).toBeGreaterThanOrEqual(200_000);
    expect(x * y - 200_000).toBeLessThan(y);
  });

  it('gives a 513x513 pointwise layer on one-pixel variants a folded dispatch within the limit', () => {
    const ls = shape('pointwise', { inW: 513, inH: 513, outW: 513, outH: 513, inC: 32, outC: 64 });
    for (const v of layerKernel('pointwise').variants) {
      if (!v.supports(ls)) continue;
      const d = dispatchSize(v, ls, 65535);
      expect(
        d.every((n) => n <= 65535 && n >= 1),
        v.name,
      ).toBe(true);
    }
  });

  it('offers the split-reduction variants for small outputs only', () => {
    const small = shape('pointwise', { inW: 17, inH: 17, outW: 17, outH: 17, inC: 384, outC: 384 });
    const large = shape('pointwise', { inW: 129, inH: 129, outW: 129, outH: 129, inC: 64, outC: 128 });
    const names = (ls: LayerShape) =>
      layerKernel('pointwise')
        .variants.filter((v) => v.supports(ls))
        .map((v) => v.name);
    expect(names(small)).toContain('split4x4');
    expect(names(large)).not.toContain('split4x4');
    expect(names(large)).toContain('shared32x32');
  });

  it('keeps the row variants to the layers they handle', () => {
    const conv0 = shape('conv', { inW: 257, inH: 257, outW: 129, outH: 129, inC: 3, outC: 24, stride: [2, 2] });
    const dilated = shape('depthwise', { inW: 17, inH: 17, outW: 17, outH: 17, inC: 8, outC: 8, dilation: [2, 2] });
    expect(layerKernel('conv').defaultVariant(conv0)).toBe('row16');
    expect(layerKernel('conv').variants.filter((v) => v.supports(conv0)).length).toBeGreaterThanOrEqual(2);
    expect(layerKernel('depthwise').defaultVariant(dilated)).toBe('generic4');
    expect(
      layerKernel('depthwise')
        .variants.filter((v) => v.supports(dilated))
        .map((v) => v.name),
    ).not.toContain('row8');
  });
});

describe('compile errors', () => {
  it('name the kernel, the variant, the WGSL line and its text', () => {
    const source = variantSource(KERNEL_MODULES.pointwise, 'tile16x4');
    const line = source.split('\n').findIndex((l) => l.includes('fn store(')) + 1;
    const msg = describeCompileMessage('pointwise', 'tile16x4', source, {
      message: 'unresolved identifier',
      type: 'error',
      lineNum: line,
      linePos: 4,
      offset: 0,
      length: 1,
    } as GPUCompilationMessage);
    expect(msg).toMatch(/^kernel pointwise, variant tile16x4, WGSL line \d+:4 `fn store\(p: u32.*`: unresolved identifier$/);
  });
});
