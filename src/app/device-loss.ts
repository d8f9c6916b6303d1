/**
 * Device errors and loss. `watchDevice` registers `device.onuncapturederror` (every GPU
 * error the app did not catch is counted and shown: none should pass silently) and
 * reports `device.lost` unless the app itself let the device go (`release()`).
 * The app then makes a new device (engine-net.ts createEngineNet, which retries) and
 * rebuilds its PoseNet on it with the same model, resolution and settings (PoseApp.recover).
 */
import { h } from './dom.ts';

export interface DeviceWatch {
  readonly device: GPUDevice;
  /** True once the device's lost promise has resolved. */
  readonly isLost: boolean;
  /** Destroys the device on purpose: not reported as a loss. */
  release(): void;
}

export function watchDevice(
  device: GPUDevice,
  hooks: { onError(message: string): void; onLost(info: GPUDeviceLostInfo): void },
): DeviceWatch {
  let intentional = false;
  let lost = false;
  device.onuncapturederror = (event) => {
    const error = event.error;
    const kind = error.constructor?.name ?? 'GPUError';
    hooks.onError(`${kind}: ${error.message}`);
  };
  void device.lost.then((info) => {
    lost = true;
    if (!intentional) hooks.onLost(info);
  });
  return {
    device,
    get isLost() {
      return lost;
    },
    release() {
      intentional = true;
      device.destroy();
    },
  };
}

const sleep = (ms: number) => new Promise<void>((r) => setTimeout(r, ms));

/** Whether the device is lost or about to be reported lost (a frame failed because of it). */
export async function lostSoon(device: GPUDevice, withinMs = 300): Promise<boolean> {
  return Promise.race([device.lost.then(() => true), sleep(withinMs).then(() => false)]);
}

export type BannerKind = 'info' | 'warn' | 'error';

/** The strip at the top of the stage that tells about device loss and recovery. */
export class Banner {
  readonly element = h('div', { class: 'banner', id: 'banner', role: 'status', hidden: true });
  private timer = 0;

  show(text: string, kind: BannerKind, hideAfterMs = 0): void {
    clearTimeout(this.timer);
    this.element.className = `banner ${kind}`;
    this.element.replaceChildren(h('span', {}, text), h('button', { class: 'close', title: 'Dismiss', onclick: () => this.hide() }, '×'));
    this.element.hidden = false;
    if (hideAfterMs > 0) this.timer = window.setTimeout(() => this.hide(), hideAfterMs);
  }

  hide(): void {
    this.element.hidden = true;
  }
}
