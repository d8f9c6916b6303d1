/**
 * WebGPU in the test process itself, through Dawn (src/node), with the error discipline of
 * the browser tests (test/pages/with-device.ts): a device whose work runs inside
 * validation / out-of-memory / internal error scopes plus an `uncapturederror` listener;
 * `finish()` pops the scopes, destroys the device and returns every error seen, for the
 * test to fail on. It runs on Chromium's SwiftShader, the driver the browser tests use,
 * unless VK_ICD_FILENAMES / VK_DRIVER_FILES name another (other installed drivers, such as
 * Mesa's lavapipe, are not taken); without any adapter it throws, saying what Vulkan pieces
 * were looked for.
 */
import fs from 'node:fs';

import { requestNodeDevice, type AdapterDescription } from '../../src/node/device.ts';
import { SWIFTSHADER_ICD } from '../../src/node/vulkan.ts';

export interface ScopedNodeDevice {
  device: GPUDevice;
  adapter: AdapterDescription;
  finish(): Promise<string[]>;
}

const SCOPES: GPUErrorFilter[] = ['validation', 'out-of-memory', 'internal'];

export async function scopedNodeDevice(): Promise<ScopedNodeDevice> {
  if (!process.env.VK_ICD_FILENAMES && !process.env.VK_DRIVER_FILES && fs.existsSync(SWIFTSHADER_ICD)) {
    process.env.VK_ICD_FILENAMES = SWIFTSHADER_ICD;
  }
  const { device, adapter } = await requestNodeDevice();
  const errors: string[] = [];
  device.addEventListener('uncapturederror', (e) => errors.push(`uncaptured: ${(e as GPUUncapturedErrorEvent).error.message}`));
  for (const s of SCOPES) device.pushErrorScope(s);
  return {
    device,
    adapter,
    async finish() {
      for (const s of [...SCOPES].reverse()) {
        const e = await device.popErrorScope();
        if (e) errors.push(`${s}: ${e.message}`);
      }
      device.destroy();
      return errors;
    },
  };
}
