/**
 * The model menu's entries: `weights/index.json` beside the page (tools/lib/weights-index.ts:
 * served by the dev server, written as a file into the static site by `npm run build`).
 */
// Not from src/default-weights.ts: its URL literals would make Vite copy the package's weights.
import { DEFAULT_MODEL_NAME, type WeightFormat } from '../model/weight-format.ts';

export interface ModelEntry {
  name: string;
  /** Folder URL holding model.json and weights.bin: relative to the index in the file, absolute once fetched. */
  url: string;
  architecture: string;
  outputStride: number;
  weightsBytes: number | null;
  /** How its weights are stored (src/model/weight-format.ts). */
  weightFormat?: WeightFormat;
  /** Seeded random weights (tools/make-posenet-onnx): real speed, meaningless poses. */
  randomWeights?: boolean;
}

/** The model the app opens: the package's default (PoseNet MobileNetV1 0.75 in the default weight format). */
export const DEFAULT_MODEL = DEFAULT_MODEL_NAME;

/** The index's entries, their URLs resolved against the index's (relative to the page by default, so any base path works). */
export async function fetchModelIndex(url = 'weights/index.json'): Promise<ModelEntry[]> {
  const indexUrl = new URL(url, document.baseURI).href;
  const response = await fetch(indexUrl, { cache: 'no-store' });
  if (!response.ok) throw new Error(`${indexUrl}: HTTP ${response.status} ${response.statusText}`);
  const json = (await response.json()) as { models?: ModelEntry[] };
  if (!Array.isArray(json.models)) throw new Error(`${indexUrl}: no "models" list`);
  return json.models.map((m) => ({ ...m, url: new URL(m.url, indexUrl).href }));
}
