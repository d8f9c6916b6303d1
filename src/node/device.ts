/**
 * WebGPU in Node through Dawn (npm `webgpu`): Dawn's classes and constants as globals (the
 * core uses GPUBufferUsage, GPUTexture... as a browser has them), the adapters Dawn sees,
 * and a PoseNet device on the chosen one. On Linux Dawn runs on Vulkan: a machine needs
 * the Vulkan loader (libvulkan1) and a driver (the GPU's, or SwiftShader's on the CPU);
 * when Dawn finds no adapter, the error says what was looked for (src/node/vulkan.ts).
 */
import { create, globals } from 'webgpu';

import { requestPoseNetDeviceOn, WebGPUUnavailableError } from '../gpu/device.ts';
import { describeVulkanSearch } from './vulkan.ts';

let globalsInstalled = false;

/**
 * Dawn's instance (the GPU object `create` returns) must outlive everything made from it:
 * when it is garbage-collected while a device is alive, Dawn's event processing reads
 * freed memory and the process crashes (seen with webgpu 0.6.2). Each device keeps its
 * instance here; the listing instance is kept for the process.
 */
const instanceOf = new WeakMap<GPUDevice, GPU>();
let listingInstance: GPU | null = null;
let listing: Promise<AdapterEntry[]> | null = null;

/** Dawn's WebGPU classes and constants (GPUBufferUsage, GPUTexture, ...) on globalThis, as in a browser. Idempotent. */
export function installWebGPUGlobals(): void {
  if (globalsInstalled) return;
  Object.assign(globalThis, globals);
  globalsInstalled = true;
}

/** An adapter as Dawn lists it. */
export interface AdapterEntry {
  /** Position in the list (what `--adapter N` means). */
  index: number;
  /** Dawn backend: vulkan, opengl, null... */
  backend: string;
  /** The driver's device name, e.g. `NVIDIA H200` or `SwiftShader Device (Subzero)`. */
  name: string;
}

/** What a tool prints about the adapter it ran on. */
export interface AdapterDescription {
  name: string;
  backend: string;
  vendor: string;
  architecture: string;
  /** The driver (Dawn's adapter description, e.g. `SwiftShader driver 5.0.0` or the NVIDIA driver version). */
  driver: string;
  /** One line: name, backend, vendor/architecture and driver. */
  label: string;
}

export class AdapterChoiceError extends Error {
  override name = 'AdapterChoiceError';
}

/** An adapter name no device has: Dawn then throws, listing the adapters it has. */
const NO_SUCH_ADAPTER = 'posenet-webgpu: list the adapters';
const LISTED = /^\s*\*\s*backend:\s*'([^']*)',\s*name:\s*'(.*)'\s*$/;

/** Every adapter Dawn finds, in its order (an empty list when there is no driver). Asked once per process. */
export function listAdapters(): Promise<AdapterEntry[]> {
  listing ??= askDawnForAdapters();
  return listing;
}

async function askDawnForAdapters(): Promise<AdapterEntry[]> {
  installWebGPUGlobals();
  listingInstance = create([`adapter=${NO_SUCH_ADAPTER}`]);
  let message: string;
  try {
    const adapter = await listingInstance.requestAdapter();
    if (adapter) throw new Error(`Dawn granted an adapter named "${NO_SUCH_ADAPTER}"`);
    return [];
  } catch (err) {
    message = (err as Error).message;
  }
  const entries: AdapterEntry[] = [];
  for (const line of message.split('\n')) {
    const m = LISTED.exec(line);
    if (m) entries.push({ index: entries.length, backend: m[1]!, name: m[2]! });
  }
  return entries;
}

/** An adapter by list position (`0`) or by a case-insensitive part of its name (`nvidia`, `swiftshader`). */
export function chooseAdapter(adapters: AdapterEntry[], spec: string): AdapterEntry {
  const listed = adapters.length ? adapters.map((a) => `${a.index}: ${a.name} (${a.backend})`).join('; ') : 'none';
  if (/^\d+$/.test(spec.trim())) {
    const found = adapters[Number(spec)];
    if (!found) throw new AdapterChoiceError(`no adapter ${spec} (adapters: ${listed})`);
    return found;
  }
  const needle = spec.toLowerCase();
  const hits = adapters.filter((a) => a.name.toLowerCase().includes(needle) || `${a.backend}:${a.name}`.toLowerCase() === needle);
  if (hits.length === 1) return hits[0]!;
  throw new AdapterChoiceError(
    hits.length ? `adapter "${spec}" is ambiguous (adapters: ${listed})` : `no adapter matches "${spec}" (adapters: ${listed})`,
  );
}

/** `SwiftShader Device (Subzero)` and Dawn's `swiftshader-device-subzero-` compare equal. */
const squash = (s: string): string => s.toLowerCase().replace(/[^a-z0-9]+/g, '');

export function describeAdapter(info: GPUAdapterInfo, listed: AdapterEntry[], chosen?: AdapterEntry): AdapterDescription {
  const entry = chosen ?? listed.find((a) => squash(a.name) === squash(info.device)) ?? (listed.length === 1 ? listed[0] : undefined);
  const name = entry?.name ?? (info.device || 'unknown adapter');
  const backend = entry?.backend ?? 'unknown backend';
  const vendor = info.vendor || 'unknown vendor';
  const architecture = info.architecture || '';
  const driver = info.description || 'unknown driver';
  const label = `${name} (${backend}; ${vendor}${architecture ? ` ${architecture}` : ''}; driver: ${driver})`;
  return { name, backend, vendor, architecture, driver, label };
}

export interface NodeDeviceOptions {
  /** Which adapter: its list position or part of its name (see listAdapters); default Dawn's high-performance choice. */
  adapter?: string;
  powerPreference?: GPUPowerPreference;
  /** Ask for timestamp-query when the adapter has it (default true). */
  timestamps?: boolean;
}

export interface NodeDevice {
  device: GPUDevice;
  adapter: AdapterDescription;
}

/** Keeps Dawn instances handed out by nodeGpu alive for the process (see instanceOf). */
const handedOut = new Set<GPU>();

/**
 * A Dawn `GPU` (what `navigator.gpu` is in a browser) whose requestAdapter() gives the
 * chosen adapter (any, without a choice), for code that asks for its own device (TF.js's
 * webgpu backend). Kept alive for the process.
 */
export async function nodeGpu(options: Pick<NodeDeviceOptions, 'adapter'> = {}): Promise<{ gpu: GPU; adapter?: AdapterEntry }> {
  installWebGPUGlobals();
  const chosen = options.adapter !== undefined ? chooseAdapter(await listAdapters(), options.adapter) : undefined;
  const gpu = create(chosen ? [`backend=${chosen.backend}`, `adapter=${chosen.name}`] : []);
  handedOut.add(gpu);
  return { gpu, adapter: chosen };
}

/**
 * A PoseNet device (timestamp-query where offered, the largest storage buffers) on a Dawn
 * adapter. Throws WebGPUUnavailableError, saying what Vulkan pieces were looked for, when
 * Dawn finds no adapter; AdapterChoiceError when `adapter` names none or several.
 */
export async function requestNodeDevice(options: NodeDeviceOptions = {}): Promise<NodeDevice> {
  installWebGPUGlobals();
  const listed = await listAdapters();
  const chosen = options.adapter !== undefined ? chooseAdapter(listed, options.adapter) : undefined;
  const gpu = create(chosen ? [`backend=${chosen.backend}`, `adapter=${chosen.name}`] : []);
  let adapter: GPUAdapter | null = null;
  try {
    adapter = await gpu.requestAdapter({ powerPreference: options.powerPreference ?? 'high-performance' });
  } catch {
    adapter = null;
  }
  if (!adapter) {
    const where = process.platform === 'linux' ? `\n${describeVulkanSearch()}` : '';
    throw new WebGPUUnavailableError(`Dawn (npm webgpu) found no WebGPU adapter${chosen ? ` named "${chosen.name}"` : ''}.${where}`);
  }
  const device = await requestPoseNetDeviceOn(adapter, { timestamps: options.timestamps });
  instanceOf.set(device, gpu);
  return { device, adapter: describeAdapter(adapter.info, listed, chosen) };
}
