/** The model menu's entries: `/weights/index.json`, served by the `weights-index` Vite plugin. */
import { DEFAULT_WEIGHT_FORMAT, formatFolder, type WeightFormat } from '../model/weight-format.ts';

export interface ModelEntry {
  name: string;
  /** Folder URL holding model.json and weights.bin. */
  url: string;
  architecture: string;
  outputStride: number;
  weightsBytes: number | null;
  /** How its weights are stored (src/model/weight-format.ts). */
  weightFormat?: WeightFormat;
  /** Seeded random weights (tools/make-posenet-onnx): real speed, meaningless poses. */
  randomWeights?: boolean;
}

/** The model the app opens: PoseNet MobileNetV1 0.75 in the default weight format. */
export const DEFAULT_MODEL = formatFolder('posenet-mobilenet-v1-075-s16', DEFAULT_WEIGHT_FORMAT);

export async function fetchModelIndex(url = '/weights/index.json'): Promise<ModelEntry[]> {
  const response = await fetch(url, { cache: 'no-store' });
  if (!response.ok) throw new Error(`${url}: HTTP ${response.status} ${response.statusText}`);
  const json = (await response.json()) as { models?: ModelEntry[] };
  if (!Array.isArray(json.models)) throw new Error(`${url}: no "models" list`);
  return json.models;
}
