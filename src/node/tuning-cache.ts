/**
 * Where Node keeps kernel tuning tables between runs, so that a second run starts tuned
 * (the browser's equivalent is IndexedDB: src/gpu/tuning-store.ts). One JSON file per
 * user, `$XDG_CACHE_HOME/posenet-webgpu/tuning.json` or `~/.cache/posenet-webgpu/tuning.json`;
 * `createPoseNet({ tuningStore })` overrides it (null: no cache).
 */
import fsp from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';

import { fileTuningStore, type TuningStore } from '../gpu/tuning-store.ts';

/** The default tuning cache file for this user (see the file header). */
export function defaultTuningFile(env: Record<string, string | undefined> = process.env): string {
  const xdg = env.XDG_CACHE_HOME;
  const base = xdg && path.isAbsolute(xdg) ? xdg : path.join(env.HOME || os.homedir(), '.cache');
  return path.join(base, 'posenet-webgpu', 'tuning.json');
}

/**
 * fileTuningStore on `file`, making its folder on the first save. A folder that cannot be
 * made is a store error, which the tuner reports and carries on without (never fatal).
 */
export function nodeTuningStore(file: string = defaultTuningFile()): TuningStore {
  const store = fileTuningStore(file, fsp);
  return {
    name: store.name,
    load: (key) => store.load(key),
    async save(key, table) {
      await fsp.mkdir(path.dirname(file), { recursive: true });
      await store.save(key, table);
    },
  };
}
