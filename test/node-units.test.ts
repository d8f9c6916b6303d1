/**
 * The Node entry's logic that needs no GPU: choosing an adapter from Dawn's list, looking
 * for the Vulkan loader and drivers the way the Khronos loader does (in temporary folders
 * standing in for the system's), loading weights from disk with the browser's checks, and
 * the file that keeps tuning tables between runs.
 */
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';

import { afterAll, describe, expect, it } from 'vitest';

import { ModelLoadError } from '../src/model/model.ts';
import { type AdapterEntry, AdapterChoiceError, chooseAdapter } from '../src/node/device.ts';
import { describeVulkanSearch, searchVulkan } from '../src/node/vulkan.ts';
import { defaultTuningFile, nodeTuningStore } from '../src/node/tuning-cache.ts';
import { loadWeights } from '../src/node/weights.ts';
import { adapterKey, emptyTable } from '../src/gpu/tuning.ts';
import { repoRoot } from './support/browser.ts';

const tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'node-units-'));
afterAll(() => fs.rmSync(tmp, { recursive: true, force: true }));

describe('chooseAdapter', () => {
  const adapters: AdapterEntry[] = [
    { index: 0, backend: 'vulkan', name: 'NVIDIA H200' },
    { index: 1, backend: 'vulkan', name: 'SwiftShader Device (Subzero)' },
    { index: 2, backend: 'opengl', name: 'NVIDIA H200/PCIe/SSE2' },
  ];

  it('takes a list position', () => {
    expect(chooseAdapter(adapters, '1').name).toBe('SwiftShader Device (Subzero)');
  });
  it('takes a part of a name, in any case', () => {
    expect(chooseAdapter(adapters, 'swiftshader').index).toBe(1);
  });
  it('takes backend:name for names that several backends share', () => {
    expect(chooseAdapter(adapters, 'vulkan:NVIDIA H200').index).toBe(0);
  });
  it('refuses an ambiguous or unknown choice, listing the adapters', () => {
    expect(() => chooseAdapter(adapters, 'nvidia')).toThrow(AdapterChoiceError);
    expect(() => chooseAdapter(adapters, 'nvidia')).toThrow(/ambiguous.*0: NVIDIA H200 \(vulkan\)/);
    expect(() => chooseAdapter(adapters, 'amd')).toThrow(/no adapter matches "amd"/);
    expect(() => chooseAdapter(adapters, '7')).toThrow(/no adapter 7/);
    expect(() => chooseAdapter([], '0')).toThrow(/adapters: none/);
  });
});

describe('searchVulkan', () => {
  const icdDir = path.join(tmp, 'icd.d');
  const libDir = path.join(tmp, 'lib');
  fs.mkdirSync(icdDir, { recursive: true });
  fs.mkdirSync(libDir, { recursive: true });
  fs.writeFileSync(path.join(libDir, 'libvulkan.so.1'), '');
  fs.writeFileSync(path.join(libDir, 'libdriver.so'), '');
  fs.writeFileSync(path.join(icdDir, 'a.json'), JSON.stringify({ ICD: { library_path: '../lib/libdriver.so' } }));
  fs.writeFileSync(path.join(icdDir, 'b.json'), JSON.stringify({ ICD: { library_path: '/nonexistent/libgone.so' } }));
  fs.writeFileSync(path.join(icdDir, 'c.json'), JSON.stringify({ ICD: { library_path: 'libbyname.so' } }));
  fs.writeFileSync(path.join(icdDir, 'broken.json'), '{');

  it('finds the loader through LD_LIBRARY_PATH and reads every manifest of VK_ICD_FILENAMES', () => {
    const s = searchVulkan({ LD_LIBRARY_PATH: libDir, VK_ICD_FILENAMES: icdDir });
    expect(s.loader).toBe(path.join(libDir, 'libvulkan.so.1'));
    expect(s.icdSource).toBe('VK_ICD_FILENAMES');
    expect(s.icds.map((i) => [path.basename(i.file), i.libraryFound])).toEqual([
      ['a.json', true],
      ['b.json', false],
      ['broken.json', false],
      ['c.json', true],
    ]);
    expect(s.icds[0]!.library).toBe(path.join(libDir, 'libdriver.so'));
  });

  it('lets VK_DRIVER_FILES take precedence and VK_ADD_DRIVER_FILES add', () => {
    const s = searchVulkan({
      VK_DRIVER_FILES: path.join(icdDir, 'a.json'),
      VK_ICD_FILENAMES: icdDir,
      VK_ADD_DRIVER_FILES: path.join(icdDir, 'c.json'),
    });
    expect(s.icdSource).toBe('VK_DRIVER_FILES + VK_ADD_DRIVER_FILES');
    expect(s.icds.map((i) => path.basename(i.file))).toEqual(['a.json', 'c.json']);
  });

  it('says what it looked for when there is nothing', () => {
    const empty = path.join(tmp, 'empty');
    fs.mkdirSync(empty, { recursive: true });
    const text = describeVulkanSearch(
      searchVulkan({ LD_LIBRARY_PATH: empty, VK_ICD_FILENAMES: path.join(empty, 'none.json'), HOME: empty }),
    );
    expect(text).toContain(`no ICD manifest (*.json) in VK_ICD_FILENAMES: ${path.join(empty, 'none.json')}`);
    if (!fs.existsSync('/usr/lib/x86_64-linux-gnu/libvulkan.so.1') && !fs.existsSync('/lib/x86_64-linux-gnu/libvulkan.so.1')) {
      expect(text).toMatch(/libvulkan\.so\.1 not found in .*install libvulkan1/);
    }
  });
});

describe('loadWeights (Node)', () => {
  const model = path.join(repoRoot, 'weights/posenet-mobilenet-v1-075-s16');

  it('loads a converted folder, its model.json, or a file: URL alike', async () => {
    const a = await loadWeights(model);
    const b = await loadWeights(path.join(model, 'model.json'));
    const c = await loadWeights(new URL(`file://${model}`));
    expect(a.manifest.name).toBe('posenet-mobilenet-v1-075-s16');
    expect(a.weights.byteLength).toBe(a.manifest.weights.bytes);
    expect([b.weights.byteLength, c.weights.byteLength]).toEqual([a.weights.byteLength, a.weights.byteLength]);
  });

  it('names the missing file', async () => {
    await expect(loadWeights(path.join(tmp, 'nowhere'))).rejects.toThrow(ModelLoadError);
    await expect(loadWeights(path.join(tmp, 'nowhere'))).rejects.toThrow(
      /nowhere\/model\.json: cannot read the model manifest \(no such file\)/,
    );
  });

  it('refuses weights whose checksum does not match', async () => {
    const dir = path.join(tmp, 'corrupt');
    fs.mkdirSync(dir, { recursive: true });
    fs.copyFileSync(path.join(model, 'model.json'), path.join(dir, 'model.json'));
    const bytes = fs.readFileSync(path.join(model, 'weights.bin'));
    bytes[100] = bytes[100]! ^ 0xff;
    fs.writeFileSync(path.join(dir, 'weights.bin'), bytes);
    await expect(loadWeights(dir)).rejects.toThrow(/weights\.bin: sha256 .* does not match/);
  });
});

describe('Node tuning cache', () => {
  it('lives under XDG_CACHE_HOME when it is absolute, else under ~/.cache', () => {
    expect(defaultTuningFile({ XDG_CACHE_HOME: '/x/cache', HOME: '/home/u' })).toBe('/x/cache/posenet-webgpu/tuning.json');
    expect(defaultTuningFile({ XDG_CACHE_HOME: 'relative', HOME: '/home/u' })).toBe('/home/u/.cache/posenet-webgpu/tuning.json');
    expect(defaultTuningFile({ HOME: '/home/u' })).toBe('/home/u/.cache/posenet-webgpu/tuning.json');
  });

  it('makes its folder on the first save, and a second store on the file reads the table back', async () => {
    const file = path.join(tmp, 'cache-home', 'posenet-webgpu', 'tuning.json');
    const table = emptyTable(adapterKey({ vendor: 'v', architecture: 'a', description: 'd' }), 'model', 'kernels');
    table.entries.push({
      shape: 'pointwise 17x17x384',
      family: 'pointwise x384',
      pixels: 289,
      kernel: 'pointwise',
      layers: ['Conv2d_13_pointwise'],
      candidates: [{ variant: 'tile16x4', ms: 1, samples: 3 }],
      choice: 'tile16x4',
      timing: 'pass',
    });
    expect(await nodeTuningStore(file).load('k')).toBeNull();
    await nodeTuningStore(file).save('k', table);
    expect(fs.existsSync(file)).toBe(true);
    expect(await nodeTuningStore(file).load('k')).toEqual(table);
    expect(await nodeTuningStore(file).load('other')).toBeNull();
  });
});
