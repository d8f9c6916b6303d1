/**
 * The browser runtime (tools/lib/runtime.ts): tool pages in headless Chromium, served by
 * Vite (tools/lib/browser-run.ts). A page can only state a power preference, so that is
 * what `--adapter` chooses here; the page reads it from its URL (`?power=`).
 */
import { openSession, type BrowserSession } from './browser-run.ts';
import type { RuntimeOptions, ToolPage, ToolRuntime } from './runtime.ts';
import { ToolError } from './tool.ts';

const POWER_PREFERENCES = ['high-performance', 'low-power'] as const;

function powerPreference(adapter: string | undefined): string | undefined {
  if (adapter === undefined) return undefined;
  if ((POWER_PREFERENCES as readonly string[]).includes(adapter)) return adapter;
  throw new ToolError(
    `--adapter "${adapter}": in the browser runtime an adapter is chosen by power preference (${POWER_PREFERENCES.join(' or ')}); ` +
      'Dawn adapters by name need --runtime node (--adapter list shows them)',
  );
}

export async function openBrowserRuntime(options: RuntimeOptions): Promise<ToolRuntime> {
  const power = powerPreference(options.adapter);
  const session = await openSession({ tfjs: options.tfjs });
  const version = await session.browser.version();
  return {
    name: 'browser',
    description: `${version} (headless, through Puppeteer)`,
    async openPage(pagePath: string, global: string): Promise<ToolPage> {
      return session.openPage(power ? `${pagePath}?power=${power}` : pagePath, global);
    },
    close: () => session.close(),
  };
}

/** What Chromium grants for each power preference. */
export async function listBrowserAdapters(): Promise<string[]> {
  let session: BrowserSession | null = null;
  try {
    session = await openSession();
    const page = await session.openPage('tools/pages/infer.html', 'infer');
    const found = await page.page.evaluate(async (prefs: readonly string[]) => {
      const out: string[] = [];
      for (const powerPreference of prefs) {
        const adapter = await navigator.gpu?.requestAdapter({ powerPreference: powerPreference as GPUPowerPreference });
        const i = adapter?.info;
        out.push(
          `${powerPreference}: ${i ? [i.vendor, i.architecture, i.device, i.description].filter(Boolean).join(' / ') || 'an adapter with no description' : 'none'}`,
        );
      }
      return out;
    }, POWER_PREFERENCES);
    return [`${await session.browser.version()} grants:`, ...found, 'choose with --adapter high-performance | low-power'];
  } finally {
    await session?.close();
  }
}
