/**
 * The model index the demo page's menu reads (`weights/index.json`): every
 * `<weights>/<name>/model.json` that is a posenet-webgpu manifest. One implementation for
 * the dev server (vite.config.ts serves it afresh on each request) and the static site
 * (tools/build-site.ts writes it as a file).
 *
 * Entry URLs are relative to the index itself (`<name>/`), so the index works wherever the
 * folder is hosted, under any base path; the page resolves them against the index's URL.
 */
import fs from 'node:fs';
import path from 'node:path';
import type { ModelEntry } from '../../src/app/models.ts';
import { isWeightFormat } from '../../src/model/weight-format.ts';

export interface IndexedModel {
  entry: ModelEntry;
  /** The model's folder. */
  dir: string;
  manifestFile: string;
  /** The weights file the manifest names (it may be missing: then `entry.weightsBytes` is null). */
  weightsFile: string;
  /** The parsed manifest. */
  manifest: Record<string, unknown>;
}

/** Made by tools/make-posenet-onnx: seeded random weights, real speed, meaningless poses. */
export function hasRandomWeights(manifest: Record<string, unknown>): boolean {
  return String((manifest.source as { producer?: unknown } | undefined)?.producer ?? '').includes('make-posenet-onnx');
}

/**
 * The models under `dir`, by folder name. A model.json that is not JSON, or not a
 * posenet-webgpu manifest, is passed over (the dev server may catch one being written);
 * `onSkip` hears about it.
 */
export function listModels(dir: string, options: { includeRandom: boolean; onSkip?: (file: string, why: string) => void }): IndexedModel[] {
  const out: IndexedModel[] = [];
  const folders = fs.existsSync(dir) ? fs.readdirSync(dir, { withFileTypes: true }).filter((d) => d.isDirectory()) : [];
  for (const folder of folders.sort((a, b) => a.name.localeCompare(b.name))) {
    const manifestFile = path.join(dir, folder.name, 'model.json');
    if (!fs.existsSync(manifestFile)) continue;
    let m: Record<string, unknown>;
    try {
      m = JSON.parse(fs.readFileSync(manifestFile, 'utf8')) as Record<string, unknown>;
    } catch (err) {
      options.onSkip?.(manifestFile, `not JSON (${(err as Error).message})`);
      continue;
    }
    if (m.format !== 'posenet-webgpu/manifest') {
      options.onSkip?.(manifestFile, 'not a posenet-webgpu manifest');
      continue;
    }
    const randomWeights = hasRandomWeights(m);
    if (randomWeights && !options.includeRandom) {
      options.onSkip?.(manifestFile, 'random weights');
      continue;
    }
    const weights = m.weights as { file?: string; format?: string } | undefined;
    const weightsFile = path.join(dir, folder.name, weights?.file ?? 'weights.bin');
    out.push({
      entry: {
        name: typeof m.name === 'string' ? m.name : folder.name,
        url: `${encodeURIComponent(folder.name)}/`,
        architecture: String(m.architecture ?? 'unknown'),
        outputStride: Number(m.outputStride),
        weightsBytes: fs.existsSync(weightsFile) ? fs.statSync(weightsFile).size : null,
        weightFormat: isWeightFormat(weights?.format) ? weights.format : 'f32',
        randomWeights,
      },
      dir: path.join(dir, folder.name),
      manifestFile,
      weightsFile,
      manifest: m,
    });
  }
  return out;
}

/** `weights/index.json`'s content for the models under `dir`. */
export function weightsIndex(dir: string, options: { includeRandom: boolean }): { models: ModelEntry[] } {
  return { models: listModels(dir, options).map((m) => m.entry) };
}
