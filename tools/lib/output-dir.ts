/**
 * Build outputs (lib/ of the npm package, dist/ of the static site) are written whole: into
 * a temporary sibling folder, which is then renamed over the old output, so that an
 * interrupted build never leaves half an output behind. An existing folder is replaced only
 * when the same tool made it (it holds the tool's marker file) or it is empty; anything
 * else is someone's data and is left alone, with an error naming it.
 */
import fs from 'node:fs';
import path from 'node:path';

export class OutputDirError extends Error {
  override name = 'OutputDirError';
}

export interface Marker {
  /** File name inside the output, e.g. `build-info.json`. */
  file: string;
  /** `producer` written into it; an existing output is ours when its marker names the same producer. */
  producer: string;
}

/** Whether `dir` is absent, empty, or an output of `marker.producer`. */
export function isReplaceable(dir: string, marker: Marker): boolean {
  if (!fs.existsSync(dir)) return true;
  if (!fs.statSync(dir).isDirectory()) return false;
  if (fs.readdirSync(dir).length === 0) return true;
  try {
    const info = JSON.parse(fs.readFileSync(path.join(dir, marker.file), 'utf8')) as { producer?: unknown };
    return info.producer === marker.producer;
  } catch {
    return false;
  }
}

/**
 * Builds an output folder: `fill` writes into a temporary sibling, then the marker is
 * written (with `info`) and the folder renamed into place over the old output.
 */
export async function writeOutputDir(
  dest: string,
  marker: Marker,
  info: Record<string, unknown>,
  fill: (dir: string) => Promise<void>,
): Promise<void> {
  if (!isReplaceable(dest, marker)) {
    throw new OutputDirError(
      `${dest} exists and was not made by ${marker.producer} (no ${marker.file} of its own): move it away or choose another output folder`,
    );
  }
  const parent = path.dirname(dest);
  fs.mkdirSync(parent, { recursive: true });
  const suffix = `${process.pid}-${Date.now()}`;
  const tmp = path.join(parent, `.${path.basename(dest)}.tmp-${suffix}`);
  const old = path.join(parent, `.${path.basename(dest)}.old-${suffix}`);
  fs.mkdirSync(tmp);
  try {
    await fill(tmp);
    fs.writeFileSync(path.join(tmp, marker.file), `${JSON.stringify({ producer: marker.producer, ...info }, null, 2)}\n`);
    const had = fs.existsSync(dest);
    if (had) fs.renameSync(dest, old);
    try {
      fs.renameSync(tmp, dest);
    } catch (err) {
      if (had) fs.renameSync(old, dest);
      throw err;
    }
    if (had) fs.rmSync(old, { recursive: true, force: true });
  } finally {
    if (fs.existsSync(tmp)) fs.rmSync(tmp, { recursive: true, force: true });
  }
}

/** Bytes of every file under `dir`. */
export function folderBytes(dir: string): number {
  let total = 0;
  for (const entry of fs.readdirSync(dir, { withFileTypes: true })) {
    const p = path.join(dir, entry.name);
    total += entry.isDirectory() ? folderBytes(p) : fs.statSync(p).size;
  }
  return total;
}
