/**
 * Converted weights from disk: `<folder>/model.json` and the weights file it names, with
 * the checks fetchWeights makes in the browser (valid manifest, size, sha256).
 */
import fs from 'node:fs/promises';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

import { checkWeights, ModelLoadError, parseManifest, type LoadedWeights } from '../model/model.ts';

async function readOrThrow(file: string, what: string): Promise<Buffer> {
  try {
    return await fs.readFile(file);
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code;
    const why = code === 'ENOENT' ? 'no such file' : code === 'EISDIR' ? 'is a directory' : (err as Error).message;
    throw new ModelLoadError(`${file}: cannot read ${what} (${why})`);
  }
}

/** Loads a weights folder (or its model.json; a `file:` URL too). */
export async function loadWeights(location: string | URL): Promise<LoadedWeights> {
  const given = location instanceof URL || location.startsWith('file:') ? fileURLToPath(location) : location;
  const dir = path.resolve(given.replace(/[/\\]model\.json$/, ''));
  const manifestFile = path.join(dir, 'model.json');
  const manifest = parseManifest((await readOrThrow(manifestFile, 'the model manifest')).toString('utf8'), manifestFile);
  const weightsFile = path.join(dir, manifest.weights.file);
  const bytes = await readOrThrow(weightsFile, 'the weights');
  const weights = bytes.buffer.slice(bytes.byteOffset, bytes.byteOffset + bytes.byteLength) as ArrayBuffer;
  await checkWeights(manifest, weights, weightsFile);
  return { manifest, weights, source: dir };
}
