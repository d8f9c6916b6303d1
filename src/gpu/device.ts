/**
 * WebGPU device set-up for PoseNet: an adapter, the optional `timestamp-query` feature
 * (for the profiler and the tuner), the optional `subgroups` feature (for the kernel
 * variants that use subgroup operations) and the largest storage buffers the adapter
 * allows (ResNet50's weights are ~100 MB in one buffer).
 */

export class WebGPUUnavailableError extends Error {
  override name = 'WebGPUUnavailableError';
}

export interface DeviceOptions {
  powerPreference?: GPUPowerPreference;
  /** Ask for timestamp-query when the adapter has it (default true). */
  timestamps?: boolean;
  /** Ask for subgroups when the adapter has it (default true). */
  subgroups?: boolean;
}

export async function requestPoseNetDevice(options: DeviceOptions = {}): Promise<GPUDevice> {
  const gpu = (globalThis.navigator as Navigator | undefined)?.gpu;
  if (!gpu) {
    throw new WebGPUUnavailableError(
      'WebGPU is not available here (navigator.gpu is missing): use a browser with WebGPU (Chrome or Edge 113+, Safari 26+, ' +
        'Firefox 141+ on Windows) over https or http://localhost, or enable it (chrome://flags/#enable-unsafe-webgpu).',
    );
  }
  const adapter = await gpu.requestAdapter({ powerPreference: options.powerPreference ?? 'high-performance' });
  if (!adapter) {
    throw new WebGPUUnavailableError(
      'WebGPU is present but no GPU adapter was granted (the GPU may be blocklisted or disabled): check chrome://gpu, ' +
        'update the graphics driver, or enable chrome://flags/#enable-unsafe-webgpu.',
    );
  }
  return requestPoseNetDeviceOn(adapter, options);
}

/**
 * The device PoseNet wants on a given adapter: timestamp-query and subgroups where offered, the largest
 * storage buffers. (In Node, src/node/device.ts finds the adapter through Dawn.)
 */
export function requestPoseNetDeviceOn(
  adapter: GPUAdapter,
  options: Pick<DeviceOptions, 'timestamps' | 'subgroups'> = {},
): Promise<GPUDevice> {
  const requiredFeatures: GPUFeatureName[] = [];
  if ((options.timestamps ?? true) && adapter.features.has('timestamp-query')) requiredFeatures.push('timestamp-query');
  // A string: TF.js's older @webgpu/types, also in this build, lacks the name.
  if ((options.subgroups ?? true) && adapter.features.has('subgroups')) requiredFeatures.push('subgroups' as GPUFeatureName);
  return adapter.requestDevice({
    label: 'PoseNet.device',
    requiredFeatures,
    requiredLimits: {
      maxStorageBufferBindingSize: adapter.limits.maxStorageBufferBindingSize,
      maxBufferSize: adapter.limits.maxBufferSize,
    },
  });
}
