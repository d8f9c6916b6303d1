/**
 * Where the headless tools run their pages (tools/pages/*.ts), chosen by `--runtime`:
 *
 * - `browser` (default): headless Chromium through Puppeteer, pages served by Vite
 *   (tools/lib/browser-run.ts). WebGPU is Chromium's; without a GPU, SwiftShader.
 * - `node`: the same page modules imported into this Node process, on Dawn's WebGPU (npm
 *   `webgpu`) with images decoded by sharp (tools/lib/runtime-node.ts). No browser, no
 *   Vite; the adapter is any Vulkan driver the machine has.
 *
 * `--adapter list` prints the adapters a runtime can use; `--adapter X` chooses one: under
 * node, a list position or part of a Dawn adapter's name; in the browser, a power
 * preference (`high-performance`, `low-power`), the only choice a page has.
 *
 * The tools' main code calls openRuntime() where it used to open a browser session; the
 * page API (`openPage(path, global)`, `page.call(fn, arg)`) is the same under both.
 */
import { ToolError } from './tool.ts';

export type RuntimeName = 'browser' | 'node';
export const RUNTIMES: readonly RuntimeName[] = ['browser', 'node'];

/** The flags every tool takes for this, for its usage line. */
export const RUNTIME_USAGE = '[--runtime browser|node] [--adapter list | <adapter>]';
/** parseArgs options for those flags. */
export const RUNTIME_OPTIONS = {
  runtime: { type: 'string', default: 'browser' },
  adapter: { type: 'string' },
} as const;

export interface RuntimeOptions {
  runtime: RuntimeName;
  /** Which adapter (see the header); undefined: the runtime's default. */
  adapter?: string;
  /** The pages will load TF.js (the browser runtime pre-bundles it). */
  tfjs?: boolean;
}

/** A page's entry points: `call('run', arg)` is `window[global].run(arg)` in the page. */
export interface ToolPage {
  /** Console errors and uncaught exceptions on the page so far (browser). */
  errors: string[];
  call<T>(fn: string, arg?: unknown): Promise<T>;
  close(): Promise<void>;
}

export interface ToolRuntime {
  readonly name: RuntimeName;
  /** What runs the pages: the browser's version, or Node's and Dawn's. */
  readonly description: string;
  /** Opens a page under tools/pages (e.g. `tools/pages/bench.html`) whose module sets `globalThis[global]`. */
  openPage(pagePath: string, global: string): Promise<ToolPage>;
  close(): Promise<void>;
}

export function parseRuntime(text: string): RuntimeName {
  if (!(RUNTIMES as readonly string[]).includes(text)) throw new ToolError(`invalid --runtime "${text}": expected browser or node`);
  return text as RuntimeName;
}

/** The runtime options from parsed flags (`values.runtime`, `values.adapter`). */
export function runtimeOptions(values: { runtime?: string; adapter?: string }, extra: { tfjs?: boolean } = {}): RuntimeOptions {
  const adapter = values.adapter?.trim();
  if (values.adapter !== undefined && !adapter) throw new ToolError('--adapter is empty (use --adapter list to see the adapters)');
  return { runtime: parseRuntime(values.runtime ?? 'browser'), adapter, ...extra };
}

export async function openRuntime(options: RuntimeOptions): Promise<ToolRuntime> {
  if (options.runtime === 'node') return (await import('./runtime-node.ts')).openNodeRuntime(options);
  return (await import('./runtime-browser.ts')).openBrowserRuntime(options);
}

/** The lines `--adapter list` prints: the adapters the runtime can use, and how to choose. */
export async function listRuntimeAdapters(options: RuntimeOptions): Promise<string[]> {
  if (options.runtime === 'node') return (await import('./runtime-node.ts')).listNodeAdapters();
  return (await import('./runtime-browser.ts')).listBrowserAdapters();
}

/**
 * Handles `--adapter list` for a tool: prints the list and returns true (the tool then
 * stops); false for any other value.
 */
export async function maybeListAdapters(tool: string, options: RuntimeOptions): Promise<boolean> {
  if (options.adapter !== 'list') return false;
  const lines = await listRuntimeAdapters(options);
  process.stdout.write(`${tool}: adapters of the ${options.runtime} runtime:\n${lines.map((l) => `  ${l}`).join('\n')}\n`);
  return true;
}
