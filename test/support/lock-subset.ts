/**
 * A package-lock.json for a folder that installs only some of the repository's packages
 * (and what they depend on) at the versions the repository's lock has. With it,
 * `npm ci --offline` installs them from the npm cache alone: `npm install --offline NAME`
 * would need the registry's package documents, which `npm ci` never cached.
 */
import fs from 'node:fs';
import path from 'node:path';

interface LockEntry {
  dependencies?: Record<string, string>;
  optionalDependencies?: Record<string, string>;
  dev?: boolean;
  devOptional?: boolean;
  [key: string]: unknown;
}

/** Writes package.json and package-lock.json into `dir` for `wanted` (name: range), taken from `repoLockFile`. */
export function writeLockSubset(repoLockFile: string, dir: string, wanted: Record<string, string>): string[] {
  const lock = JSON.parse(fs.readFileSync(repoLockFile, 'utf8')) as { packages: Record<string, LockEntry> };
  const packages: Record<string, LockEntry> = { '': { name: path.basename(dir), dependencies: wanted } };
  const visit = (key: string) => {
    if (packages[key]) return;
    const entry = lock.packages[key];
    if (!entry) throw new Error(`${repoLockFile}: no ${key}`);
    const { dev: _dev, devOptional: _devOptional, ...kept } = entry;
    packages[key] = kept;
    // Node's lookup: the nearest node_modules/<dep> from the package's own folder upwards.
    for (const dep of Object.keys({ ...entry.dependencies, ...entry.optionalDependencies })) {
      let base = key;
      for (;;) {
        const candidate = base ? `${base}/node_modules/${dep}` : `node_modules/${dep}`;
        if (lock.packages[candidate]) {
          visit(candidate);
          break;
        }
        if (!base) throw new Error(`${repoLockFile}: ${key} depends on ${dep}, which it does not hold`);
        const i = base.lastIndexOf('/node_modules/');
        base = i < 0 ? '' : base.slice(0, i);
      }
    }
  };
  for (const name of Object.keys(wanted)) visit(`node_modules/${name}`);
  const manifest = { name: path.basename(dir), private: true, type: 'module', dependencies: wanted };
  fs.writeFileSync(path.join(dir, 'package.json'), `${JSON.stringify(manifest, null, 2)}\n`);
  fs.writeFileSync(
    path.join(dir, 'package-lock.json'),
    `${JSON.stringify({ name: manifest.name, lockfileVersion: 3, requires: true, packages }, null, 2)}\n`,
  );
  return Object.keys(packages).filter(Boolean);
}
