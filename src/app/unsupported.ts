/**
 * What the page says instead of a blank canvas when it cannot run: no WebGPU in this
 * browser, WebGPU present but no adapter granted, a device request refused, an insecure
 * context, or no weights to load. Each case says what to do about it.
 */
import { h } from './dom.ts';

export type Problem = 'insecure-context' | 'no-webgpu' | 'no-adapter' | 'no-device' | 'no-weights' | 'error';

export interface Diagnosis {
  problem: Problem;
  title: string;
  detail: string;
  advice: string[];
}

const BROWSERS =
  'Use a browser with WebGPU: Chrome or Edge 113 or later on Windows, macOS and ChromeOS (Chrome 121+ on Android), ' +
  'Safari 26 or later, or Firefox 141 or later on Windows.';

/** Checks what the page needs from the browser, without requesting a device. */
export async function diagnoseWebGPU(): Promise<Diagnosis | null> {
  if (!window.isSecureContext) {
    return {
      problem: 'insecure-context',
      title: 'WebGPU needs a secure page',
      detail: `This page was opened from ${location.origin}, which is not a secure context, so the browser hides WebGPU.`,
      advice: ['Open it over https://, or from http://localhost or http://127.0.0.1 (npm start prints such a URL).'],
    };
  }
  if (!('gpu' in navigator) || !navigator.gpu) {
    return {
      problem: 'no-webgpu',
      title: 'WebGPU is not available in this browser',
      detail: 'navigator.gpu is missing: this browser has no WebGPU, or it is switched off.',
      advice: [
        BROWSERS,
        'On Linux, or where WebGPU is behind a flag, open chrome://flags/#enable-unsafe-webgpu, set it to Enabled ' +
          '(and chrome://flags/#enable-vulkan on Linux), then relaunch. In Firefox, set dom.webgpu.enabled to true in about:config.',
        'Check chrome://gpu: "WebGPU: Hardware accelerated" should be listed.',
      ],
    };
  }
  let adapter: GPUAdapter | null = null;
  try {
    adapter = await navigator.gpu.requestAdapter({ powerPreference: 'high-performance' });
  } catch (err) {
    return noAdapter(`requestAdapter() threw: ${(err as Error).message}`);
  }
  if (!adapter) return noAdapter('requestAdapter() returned null.');
  return null;
}

function noAdapter(detail: string): Diagnosis {
  return {
    problem: 'no-adapter',
    title: 'WebGPU is present, but the browser refused a GPU adapter',
    detail: `${detail} The GPU may be blocklisted, the driver too old, or hardware acceleration turned off.`,
    advice: [
      'Check chrome://gpu (WebGPU should read "Hardware accelerated") and turn on "Use graphics acceleration when available" in the browser settings.',
      'Update the graphics driver, or try chrome://flags/#enable-unsafe-webgpu (and chrome://flags/#ignore-gpu-blocklist).',
      BROWSERS,
    ],
  };
}

export function deviceRefused(err: unknown): Diagnosis {
  return {
    problem: 'no-device',
    title: 'The GPU adapter refused to create a device',
    detail: `requestDevice() failed: ${(err as Error)?.message ?? String(err)}`,
    advice: ['Close other tabs using the GPU and reload; if it persists, update the graphics driver or try another browser.', BROWSERS],
  };
}

export function noWeights(detail: string): Diagnosis {
  return {
    problem: 'no-weights',
    title: 'No model weights to load',
    detail,
    advice: ['Run `npm run weights` in the project (it writes weights/<name>/model.json and weights.bin), then reload.'],
  };
}

export function genericError(title: string, err: unknown): Diagnosis {
  return {
    problem: 'error',
    title,
    detail: (err as Error)?.message ?? String(err),
    advice: ['Reload the page; the browser console has the details.'],
  };
}

/** Renders a diagnosis as the page's main content. */
export function renderDiagnosis(host: HTMLElement, d: Diagnosis): void {
  host.replaceChildren(
    h(
      'section',
      { class: 'explain', id: 'explain', 'data-problem': d.problem, role: 'alert' },
      h('h2', {}, d.title),
      h('p', { class: 'detail' }, d.detail),
      h('h3', {}, 'What to do'),
      h('ul', {}, ...d.advice.map((a) => h('li', {}, a))),
    ),
  );
}
