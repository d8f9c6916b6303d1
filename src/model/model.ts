/**
 * A loaded model: the validated manifest and its packed weights in one GPU storage
 * buffer (owned here, released by dispose()). Loading fetches `<url>/model.json` and
 * `<url>/weights.bin` (src/node/weights.ts reads them from disk with the same checks) and
 * refuses anything that does not match: a malformed manifest, a weights file outside the
 * manifest's folder, a missing or short weights file, a checksum mismatch, a weight that is
 * not a finite number.
 */
import { type GpuLedger, ResourceGroup } from '../gpu/resources.ts';
import type { Manifest } from './manifest.ts';
import { ManifestError, checkWeightsSize, checkWeightsValues, validateManifest } from './validate.ts';

export class ModelLoadError extends Error {
  override name = 'ModelLoadError';
}

export interface LoadedWeights {
  manifest: Manifest;
  weights: ArrayBuffer;
  /** Where they came from, for error messages. */
  source: string;
}

async function fetchOrThrow(url: string, what: string): Promise<Response> {
  let response: Response;
  try {
    response = await fetch(url);
  } catch (err) {
    throw new ModelLoadError(`${url}: cannot fetch ${what} (${(err as Error).message})`);
  }
  if (!response.ok) throw new ModelLoadError(`${url}: cannot fetch ${what} (HTTP ${response.status} ${response.statusText})`);
  // A single-page-app server answers a missing file with its index.html.
  if ((response.headers.get('content-type') ?? '').startsWith('text/html')) {
    throw new ModelLoadError(`${url}: cannot fetch ${what} (the server sent an HTML page: is the file missing?)`);
  }
  return response;
}

async function sha256Hex(data: ArrayBuffer): Promise<string | null> {
  if (!globalThis.crypto?.subtle) return null;
  const digest = await crypto.subtle.digest('SHA-256', data);
  return [...new Uint8Array(digest)].map((b) => b.toString(16).padStart(2, '0')).join('');
}

/** Each file of a converted model at its own URL (e.g. assets a bundler renamed). */
export interface WeightsFiles {
  /** The manifest (model.json). */
  manifestUrl: string | URL;
  /** The packed weights (the file the manifest names, under any name). */
  weightsUrl: string | URL;
}

/** Where a converted model is: its folder's URL (holding model.json and the weights file it names), or each file's URL. */
export type WeightsLocation = string | URL | WeightsFiles;

/** A model to run: where it is, or its files already fetched. */
export type WeightsSource = WeightsLocation | LoadedWeights;

export function isLoadedWeights(source: WeightsSource): source is LoadedWeights {
  return typeof source === 'object' && !(source instanceof URL) && 'manifest' in source;
}

/** Fetches the weights, or passes weights already fetched through. */
export function loadWeights(source: WeightsSource): Promise<LoadedWeights> {
  return isLoadedWeights(source) ? Promise.resolve(source) : fetchWeights(source);
}

/** Parses and validates a manifest's text; `label` (its URL or path) names it in errors. */
export function parseManifest(text: string, label: string): Manifest {
  let json: unknown;
  try {
    json = JSON.parse(text);
  } catch (err) {
    throw new ModelLoadError(`${label}: not valid JSON (${(err as Error).message})`);
  }
  try {
    return validateManifest(json, label);
  } catch (err) {
    if (err instanceof ManifestError) throw new ModelLoadError(err.message);
    throw err;
  }
}

/**
 * Checks the weights' size, (where WebCrypto exists) their sha256 against the manifest, and
 * that every weight is a finite number.
 */
export async function checkWeights(manifest: Manifest, weights: ArrayBuffer, label: string): Promise<void> {
  try {
    checkWeightsSize(manifest, weights.byteLength, label);
  } catch (err) {
    if (err instanceof ManifestError) throw new ModelLoadError(err.message);
    throw err;
  }
  const sha = await sha256Hex(weights);
  if (sha !== null && manifest.weights.sha256 && sha !== manifest.weights.sha256) {
    throw new ModelLoadError(
      `${label}: sha256 ${sha} does not match the manifest's ${manifest.weights.sha256} (stale or corrupt weights: run \`npm run weights\`)`,
    );
  }
  try {
    checkWeightsValues(manifest, weights, label);
  } catch (err) {
    if (err instanceof ManifestError) throw new ModelLoadError(err.message);
    throw err;
  }
}

/**
 * Fetches and validates a model: `<folder>/model.json` and the weights file it names, or
 * the two files' own URLs.
 */
export async function fetchWeights(location: WeightsLocation): Promise<LoadedWeights> {
  let base: string;
  let manifestUrl: string;
  let weightsUrlOf: (manifest: Manifest) => string;
  if (typeof location === 'object' && !(location instanceof URL)) {
    manifestUrl = String(location.manifestUrl);
    const weightsUrl = String(location.weightsUrl);
    base = manifestUrl;
    weightsUrlOf = () => weightsUrl;
  } else {
    base = String(location)
      .replace(/\/+$/, '')
      .replace(/\/model\.json$/, '');
    manifestUrl = `${base}/model.json`;
    // validateManifest allows a bare file name only, so this stays in the manifest's folder.
    weightsUrlOf = (manifest) => `${base}/${manifest.weights.file}`;
  }
  const response = await fetchOrThrow(manifestUrl, 'the model manifest');
  const manifest = parseManifest(await response.text(), manifestUrl);
  const weightsUrl = weightsUrlOf(manifest);
  const weights = await (await fetchOrThrow(weightsUrl, 'the weights')).arrayBuffer();
  await checkWeights(manifest, weights, weightsUrl);
  return { manifest, weights, source: base };
}

export class Model {
  readonly manifest: Manifest;
  readonly source: string;
  /** All packed weights and biases (manifest offsets index into it). */
  readonly weights: GPUBuffer;
  /** A small zero buffer bound where a kernel's optional input is absent. */
  readonly empty: GPUBuffer;
  private readonly resources: ResourceGroup;

  constructor(device: GPUDevice, loaded: LoadedWeights, ledger: GpuLedger) {
    this.manifest = loaded.manifest;
    this.source = loaded.source;
    this.resources = new ResourceGroup(device, `Model(${loaded.manifest.name})`, ledger);
    const maxBinding = device.limits.maxStorageBufferBindingSize;
    if (loaded.weights.byteLength > maxBinding) {
      throw new ModelLoadError(
        `${loaded.source}: weights are ${loaded.weights.byteLength} bytes, over this device's maxStorageBufferBindingSize ${maxBinding}`,
      );
    }
    this.weights = this.resources.buffer('weights', loaded.weights.byteLength, GPUBufferUsage.STORAGE, true);
    new Uint8Array(this.weights.getMappedRange()).set(new Uint8Array(loaded.weights));
    this.weights.unmap();
    this.empty = this.resources.buffer('empty', 16, GPUBufferUsage.STORAGE);
  }

  get name(): string {
    return this.manifest.name;
  }

  dispose(): void {
    this.resources.dispose();
  }
}
