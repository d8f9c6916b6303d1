/**
 * The error discipline of every GPU test page: a fresh device per call, the work inside
 * validation / out-of-memory / internal error scopes plus an uncapturederror listener,
 * exceptions caught, the device destroyed afterwards, and every error returned with the
 * result so the Node side can fail on it.
 */
import { requestPoseNetDevice, type DeviceOptions } from '../../src/gpu/device.ts';

export interface GpuResult<T> {
  result: T | null;
  errors: string[];
}

export async function withDevice<T>(fn: (device: GPUDevice) => Promise<T>, options: DeviceOptions = {}): Promise<GpuResult<T>> {
  const device = await requestPoseNetDevice(options);
  const errors: string[] = [];
  device.addEventListener('uncapturederror', (e) => errors.push(`uncaptured: ${(e as GPUUncapturedErrorEvent).error.message}`));
  device.pushErrorScope('validation');
  device.pushErrorScope('out-of-memory');
  device.pushErrorScope('internal');
  let result: T | null = null;
  try {
    result = await fn(device);
  } catch (err) {
    errors.push(`exception: ${(err as Error).stack ?? String(err)}`);
  }
  for (const kind of ['internal', 'out-of-memory', 'validation']) {
    const e = await device.popErrorScope();
    if (e) errors.push(`${kind}: ${e.message}`);
  }
  device.destroy();
  return { result, errors };
}
