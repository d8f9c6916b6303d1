/**
 * posenet-webgpu in Node, on Dawn's WebGPU (npm `webgpu`): the whole core API, plus
 * device creation (adapters listed and chosen), image decoding (sharp) and weights from
 * disk. Browser code never imports this module.
 *
 * ```ts
 * import { createPoseNet, decodeImage } from 'posenet-webgpu/node';
 * const net = await createPoseNet({ weights: 'weights/posenet-mobilenet-v1-075-s16', resolution: 257 });
 * const pose = await net.estimateSinglePose(await decodeImage('person.jpg'));
 * net.dispose();
 * net.device.destroy(); // the device createPoseNet made; Dawn keeps Node alive while one lives
 * ```
 */
import type { LoadedWeights } from '../model/model.ts';
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
export { describeVulkanSearch, preferSwiftShaderWhenNoDriver, searchVulkan, SWIFTSHADER_ICD } from './vulkan.ts';
export type { VulkanSearch } from './vulkan.ts';

export interface NodePoseNetConfig extends Omit<PoseNetConfig, 'weights'> {
  /** A weights folder (or its model.json) on disk, an http(s) URL, or weights already loaded. */
  weights: string | URL | LoadedWeights;
  /** Without `device`: which adapter to request it on (see requestNodeDevice). */
  adapter?: NodeDeviceOptions['adapter'];
}

const isHttp = (s: string): boolean => /^https?:\/\//i.test(s);

/**
 * createPoseNet for Node: weights from disk (or http), a Dawn device unless one is given,
 * and tuning cached in a file (src/node/tuning-cache.ts) unless `tuningStore` says otherwise.
 */
export async function createPoseNet(config: NodePoseNetConfig): Promise<PoseNet> {
  const { weights, adapter, ...rest } = config;
  const fromDisk = weights instanceof URL || (typeof weights === 'string' && !isHttp(weights));
  const loaded = fromDisk ? await loadWeights(weights) : weights;
  const device = config.device ?? (await requestNodeDevice({ adapter })).device;
  try {
    const tuningStore = rest.tuningStore === undefined ? nodeTuningStore() : rest.tuningStore;
    return await createCorePoseNet({ ...rest, weights: loaded, device, tuningStore });
  } catch (err) {
    if (!config.device) device.destroy();
    throw err;
  }
}
