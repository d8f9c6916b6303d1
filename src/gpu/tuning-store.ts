/**
 * Where tuning tables are cached between visits, keyed by (adapter, model, kernel code):
 * a small interface with three implementations.
 * - browserTuningStore(): IndexedDB (pages and workers), else localStorage, else memory;
 * - fileTuningStore(file, fs): one JSON file, for Node. The caller passes the file-system
 *   functions (node:fs/promises), so nothing here imports node modules and browser
 *   bundles stay clean;
 * - memoryTuningStore(): for tests and benchmarks that must start untuned.
 * A store that fails (private mode, quota, a read-only disk) must not break pose
 * estimation: the tuner reports the error and carries on with the table in memory.
 */
import { isTuningTable, type TuningTable } from './tuning.ts';

export interface TuningStore {
  /** A short description for messages ("IndexedDB posenet-webgpu", a file path). */
  readonly name: string;
  load(key: string): Promise<TuningTable | null>;
  save(key: string, table: TuningTable): Promise<void>;
}

export function memoryTuningStore(): TuningStore {
  const tables = new Map<string, string>();
  return {
    name: 'memory',
    async load(key) {
      const text = tables.get(key);
      return text ? (JSON.parse(text) as TuningTable) : null;
    },
    async save(key, table) {
      tables.set(key, JSON.stringify(table));
    },
  };
}

const DB_NAME = 'posenet-webgpu';
const DB_STORE = 'tuning';
const LOCAL_PREFIX = 'posenet-webgpu/tuning/';

function request<T>(r: IDBRequest<T>): Promise<T> {
  return new Promise((resolve, reject) => {
    r.onsuccess = () => resolve(r.result);
    r.onerror = () => reject(r.error ?? new Error('IndexedDB request failed'));
  });
}

function indexedDbStore(factory: IDBFactory): TuningStore {
  let db: Promise<IDBDatabase> | null = null;
  const open = () => {
    db ??= new Promise<IDBDatabase>((resolve, reject) => {
      const r = factory.open(DB_NAME, 1);
      r.onupgradeneeded = () => r.result.createObjectStore(DB_STORE);
      r.onsuccess = () => resolve(r.result);
      r.onerror = () => reject(r.error ?? new Error(`cannot open IndexedDB ${DB_NAME}`));
      r.onblocked = () => reject(new Error(`IndexedDB ${DB_NAME} is blocked by another tab`));
    });
    return db;
  };
  return {
    name: `IndexedDB ${DB_NAME}/${DB_STORE}`,
    async load(key) {
      const value: unknown = await request((await open()).transaction(DB_STORE, 'readonly').objectStore(DB_STORE).get(key));
      return isTuningTable(value) ? value : null;
    },
    async save(key, table) {
      const tx = (await open()).transaction(DB_STORE, 'readwrite');
      tx.objectStore(DB_STORE).put(JSON.parse(JSON.stringify(table)), key);
      await new Promise<void>((resolve, reject) => {
        tx.oncomplete = () => resolve();
        tx.onerror = () => reject(tx.error ?? new Error('IndexedDB write failed'));
        tx.onabort = () => reject(tx.error ?? new Error('IndexedDB write aborted'));
      });
    },
  };
}

function localStorageStore(storage: Storage): TuningStore {
  return {
    name: 'localStorage',
    async load(key) {
      const text = storage.getItem(LOCAL_PREFIX + key);
      if (!text) return null;
      try {
        const value: unknown = JSON.parse(text);
        return isTuningTable(value) ? value : null;
      } catch {
        return null;
      }
    },
    async save(key, table) {
      storage.setItem(LOCAL_PREFIX + key, JSON.stringify(table));
    },
  };
}

/** The browser's cache: IndexedDB where it exists (pages, workers), else localStorage, else memory. */
export function browserTuningStore(): TuningStore {
  const g = globalThis as { indexedDB?: IDBFactory; localStorage?: Storage };
  if (g.indexedDB) return indexedDbStore(g.indexedDB);
  try {
    if (g.localStorage) return localStorageStore(g.localStorage);
  } catch {
    // localStorage access throws where storage is disabled: fall through to memory.
  }
  return memoryTuningStore();
}

/** The node:fs/promises functions fileTuningStore uses (pass `fs` from `import fs from 'node:fs/promises'`). */
export interface FileSystem {
  readFile(path: string, encoding: 'utf8'): Promise<string>;
  writeFile(path: string, data: string): Promise<void>;
  rename(from: string, to: string): Promise<void>;
}

/**
 * Every table in one JSON file `{ [key]: table }`. Writes go to a temporary sibling and
 * are renamed over the file, so a crash never leaves half a file; a file that is not
 * such JSON is refused by name rather than overwritten.
 */
export function fileTuningStore(file: string, fs: FileSystem): TuningStore {
  const readAll = async (): Promise<Record<string, unknown>> => {
    let text: string;
    try {
      text = await fs.readFile(file, 'utf8');
    } catch (err) {
      if ((err as { code?: string }).code === 'ENOENT') return {};
      throw new Error(`tuning cache ${file}: cannot read it: ${(err as Error).message}`);
    }
    let value: unknown;
    try {
      value = JSON.parse(text);
    } catch {
      throw new Error(`tuning cache ${file}: not JSON; remove it or give another file`);
    }
    if (!value || typeof value !== 'object' || Array.isArray(value)) {
      throw new Error(`tuning cache ${file}: not a tuning cache (expected an object of tables); remove it or give another file`);
    }
    return value as Record<string, unknown>;
  };
  return {
    name: file,
    async load(key) {
      const value = (await readAll())[key];
      return isTuningTable(value) ? value : null;
    },
    async save(key, table) {
      const all = await readAll();
      all[key] = table;
      const tmp = `${file}.${Date.now().toString(36)}.tmp`;
      await fs.writeFile(tmp, `${JSON.stringify(all, null, 1)}\n`);
      await fs.rename(tmp, file);
    },
  };
}
