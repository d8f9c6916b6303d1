/**
 * Where a Vulkan program on Linux finds its pieces, for saying what was looked for when
 * Dawn finds no adapter: the loader (`libvulkan.so.1`, Debian's libvulkan1) and the
 * drivers, each named by an ICD manifest (a JSON file pointing at the driver's library).
 * The search follows the Khronos loader: VK_DRIVER_FILES / VK_ICD_FILENAMES (a colon list
 * of files or folders) replace the default folders; VK_ADD_DRIVER_FILES adds to them.
 */
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';

export const VULKAN_LOADER = 'libvulkan.so.1';

/** Chromium's SwiftShader (Debian's chromium package): a CPU Vulkan driver, for machines without a GPU. */
export const SWIFTSHADER_ICD = '/usr/lib/chromium/vk_swiftshader_icd.json';

/**
 * Where some installs put driver manifests outside the loader's default folders (NVIDIA's
 * container runtime); named in the error as candidates for VK_ICD_FILENAMES.
 */
const OTHER_ICD_DIRS = ['/usr/local/nvidia/share/vulkan/icd.d', '/usr/local/share/vulkan/icd.d', '/opt/vulkan/icd.d'];

/** Folders the dynamic linker searches for the loader, after LD_LIBRARY_PATH (ld.so's defaults on Debian and others). */
const LIBRARY_DIRS = [
  '/lib/x86_64-linux-gnu',
  '/usr/lib/x86_64-linux-gnu',
  '/lib/aarch64-linux-gnu',
  '/usr/lib/aarch64-linux-gnu',
  '/lib64',
  '/usr/lib64',
  '/lib',
  '/usr/lib',
  '/usr/local/lib',
];

export interface IcdFile {
  file: string;
  /** The driver library it names (null: unreadable manifest). */
  library: string | null;
  /** Whether that library is there (a bare name is looked up like the loader does: not checked, true). */
  libraryFound: boolean;
}

export interface VulkanSearch {
  /** Where the loader was looked for, and where it was found (null: nowhere). */
  loaderDirs: string[];
  loader: string | null;
  /** Where driver manifests were looked for (files or folders), and which environment variable chose them. */
  icdPlaces: string[];
  icdSource: string;
  icds: IcdFile[];
  /** Manifests found outside the searched places (OTHER_ICD_DIRS). */
  elsewhere: string[];
}

const splitList = (v: string | undefined): string[] => (v ? v.split(':').filter(Boolean) : []);

function defaultIcdDirs(): string[] {
  const home = os.homedir();
  const configHome = process.env.XDG_CONFIG_HOME || path.join(home, '.config');
  const dataHome = process.env.XDG_DATA_HOME || path.join(home, '.local/share');
  const configDirs = splitList(process.env.XDG_CONFIG_DIRS || '/etc/xdg');
  const dataDirs = splitList(process.env.XDG_DATA_DIRS || '/usr/local/share:/usr/share');
  return [configHome, ...configDirs, '/etc', dataHome, ...dataDirs].map((d) => path.join(d, 'vulkan/icd.d'));
}

function readIcd(file: string): IcdFile {
  try {
    const json = JSON.parse(fs.readFileSync(file, 'utf8')) as { ICD?: { library_path?: string } };
    const lib = json.ICD?.library_path ?? null;
    if (!lib) return { file, library: null, libraryFound: false };
    if (!lib.includes('/')) return { file, library: lib, libraryFound: true };
    const full = path.resolve(path.dirname(file), lib);
    return { file, library: full, libraryFound: fs.existsSync(full) };
  } catch {
    return { file, library: null, libraryFound: false };
  }
}

function icdsIn(place: string): IcdFile[] {
  try {
    if (fs.statSync(place).isDirectory()) {
      return fs
        .readdirSync(place)
        .filter((f) => f.endsWith('.json'))
        .sort()
        .map((f) => readIcd(path.join(place, f)));
    }
    return [readIcd(place)];
  } catch {
    return [];
  }
}

/** Looks for the Vulkan loader and driver manifests as the loader would (Linux). */
export function searchVulkan(env: NodeJS.ProcessEnv = process.env): VulkanSearch {
  const loaderDirs = [...splitList(env.LD_LIBRARY_PATH), ...LIBRARY_DIRS];
  const loaderDir = loaderDirs.find((d) => fs.existsSync(path.join(d, VULKAN_LOADER)));
  const chosen = env.VK_DRIVER_FILES ? 'VK_DRIVER_FILES' : env.VK_ICD_FILENAMES ? 'VK_ICD_FILENAMES' : null;
  const icdPlaces = chosen ? splitList(env[chosen]) : defaultIcdDirs();
  const added = splitList(env.VK_ADD_DRIVER_FILES);
  const places = [...icdPlaces, ...added];
  const searched = new Set(places.map((p) => path.resolve(p)));
  const elsewhere = OTHER_ICD_DIRS.filter((d) => !searched.has(path.resolve(d)))
    .flatMap(icdsIn)
    .map((i) => i.file);
  return {
    loaderDirs,
    loader: loaderDir ? path.join(loaderDir, VULKAN_LOADER) : null,
    icdPlaces: places,
    icdSource: chosen
      ? `${chosen}${added.length ? ' + VK_ADD_DRIVER_FILES' : ''}`
      : `the default folders${added.length ? ' + VK_ADD_DRIVER_FILES' : ''}`,
    icds: places.flatMap(icdsIn),
    elsewhere,
  };
}

/** One paragraph: what was looked for and found, and what to do. */
export function describeVulkanSearch(s: VulkanSearch = searchVulkan()): string {
  const lines: string[] = [];
  lines.push(
    s.loader
      ? `Vulkan loader: ${s.loader}`
      : `Vulkan loader: ${VULKAN_LOADER} not found in ${s.loaderDirs.join(', ')} (install libvulkan1, or put its folder in LD_LIBRARY_PATH)`,
  );
  if (s.icds.length) {
    lines.push(`Vulkan drivers (ICD manifests from ${s.icdSource}):`);
    for (const icd of s.icds) {
      const state = icd.library === null ? 'unreadable manifest' : icd.libraryFound ? icd.library : `${icd.library} is missing`;
      lines.push(`  ${icd.file} -> ${state}`);
    }
  } else {
    lines.push(
      `Vulkan drivers: no ICD manifest (*.json) in ${s.icdSource}: ${s.icdPlaces.join(', ')} ` +
        `(install the GPU's Vulkan driver, or point VK_ICD_FILENAMES at its manifest, e.g. ${SWIFTSHADER_ICD} for SwiftShader on the CPU)`,
    );
  }
  if (s.elsewhere.length) {
    lines.push(`Driver manifests outside those places (choose one with VK_ICD_FILENAMES=<file>): ${s.elsewhere.join(', ')}`);
  }
  return lines.join('\n');
}

/**
 * Points VK_ICD_FILENAMES at Chromium's SwiftShader when no driver is configured or
 * installed and that file exists (for tools and tests on machines without a GPU). Must run
 * before Dawn's first adapter request; returns a note saying so, or null when it did nothing.
 */
export function preferSwiftShaderWhenNoDriver(env: NodeJS.ProcessEnv = process.env): string | null {
  if (process.platform !== 'linux' || env.VK_ICD_FILENAMES || env.VK_DRIVER_FILES) return null;
  if (searchVulkan(env).icds.length || !fs.existsSync(SWIFTSHADER_ICD)) return null;
  env.VK_ICD_FILENAMES = SWIFTSHADER_ICD;
  return `no Vulkan driver is installed or configured: using Chromium's SwiftShader (${SWIFTSHADER_ICD}), a CPU implementation`;
}
