/**
 * posenet-webgpu in Node, on Dawn's WebGPU (npm `webgpu`): the whole core API, plus
 * device creation (adapters listed and chosen), image decoding (sharp) and weights from
 * disk. Browser code never imports this module. `webgpu` and `sharp` are optional peer
 * dependencies, loaded on first use (src/node/peers.ts): a missing one is a one-line
 * MissingPeerError that says what to install.
 *
 * ```ts
 * import { createPoseNet, decodeImage } from 'posenet-webgpu/node';
 * const net = await createPoseNet({ resolution: 257 }); // the package's model; or weights: '<folder>'
 * const pose = await net.estimateSinglePose(await decodeImage('person.jpg'));
 * net.dispose();
 * net.device.destroy(); // the device createPoseNet made; Dawn keeps Node alive while one lives
 * ```
 */
import { defaultWeights } from '../default-weights.ts';
import { type LoadedWeights, ModelLoadError } from '../model/model.ts';
import { createPoseNet as createCorePoseNet, type PoseNet, type PoseNetConfig } from '../posenet.ts';
import { requestNodeDevice, type NodeDeviceOptions } from './device.ts';
import { nodeTuningStore } from './tuning-cache.ts';
import { loadWeights } from './weights.ts';

export * from '../index.ts';
export {
  AdapterChoiceError,
  chooseAdapter,
  describeAdapter,
  installWebGPUGlobals,
  listAdapters,
  requestNodeDevice,
} from './device.ts';
export type { AdapterDescription, AdapterEntry, NodeDevice, NodeDeviceOptions } from './device.ts';
export { decodeImage, ImageDecodeError } from './image.ts';
export type { DecodedImage } from './image.ts';
export { defaultTuningFile, nodeTuningStore } from './tuning-cache.ts';
export { loadWeights } from './weights.ts';
export { MissingPeerError, NODE_PEERS } from './peers.ts';
export type { NodePeer } from './peers.ts';
export { describeVulkanSearch, preferSwiftShaderWhenNoDriver, searchVulkan, SWIFTSHADER_ICD } from './vulkan.ts';
export type { VulkanSearch } from './vulkan.ts';

export interface NodePoseNetConfig extends Omit<PoseNetConfig, 'weights'> {
  /**
   * A weights folder (or its model.json) on disk, an http(s) URL, or weights already loaded.
   * Default: the package's own PoseNet MobileNetV1 0.75 (output stride 16), read from disk
   * relative to this module.
   */
  weights?: string | URL | LoadedWeights;
  /** Without `device`: which adapter to request it on (see requestNodeDevice). */
  adapter?: NodeDeviceOptions['adapter'];
}

const isHttp = (s: string): boolean => /^https?:\/\//i.test(s);

const DEFAULT_HINT =
  'the default model ships in the package under weights/ and is looked up relative to the module; if you bundled ' +
  'posenet-webgpu/node, copy node_modules/posenet-webgpu/weights/ to the folder above your bundle, or pass `weights`';

/** The package's default model from disk (src/default-weights.ts), with a hint when it is not where the module expects it. */
async function loadDefaultWeights(): Promise<LoadedWeights> {
  const files = defaultWeights();
  if (!files)
    throw new ModelLoadError('createPoseNet: no `weights` given and this module has no URL to find the default model from; pass `weights`');
  try {
    return await loadWeights(new URL(files.manifestUrl));
  } catch (err) {
    if (err instanceof ModelLoadError) throw new ModelLoadError(`${err.message}. ${DEFAULT_HINT}`);
    throw err;
  }
}

/**
 * createPoseNet for Node: weights from disk (by default the package's model) or http, a Dawn device unless one is given,
 * and tuning cached in a file (src/node/tuning-cache.ts) unless `tuningStore` says otherwise.
 */
export async function createPoseNet(config: NodePoseNetConfig = {}): Promise<PoseNet> {
  const { weights, adapter, ...rest } = config;
  const fromDisk = weights instanceof URL || (typeof weights === 'string' && !isHttp(weights));
  const loaded = weights === undefined ? await loadDefaultWeights() : fromDisk ? await loadWeights(weights) : weights;
  const device = config.device ?? (await requestNodeDevice({ adapter })).device;
  try {
    const tuningStore = rest.tuningStore === undefined ? nodeTuningStore() : rest.tuningStore;
    return await createCorePoseNet({ ...rest, weights: loaded, device, tuningStore });
  } catch (err) {
    if (!config.device) device.destroy();
    throw err;
  }
}
