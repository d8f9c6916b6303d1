/**
 * Headless Chromium and the Vite dev server for browser tests: one implementation, shared
 * with the command-line tools, lives in tools/lib/browser.ts.
 */
export * from '../../tools/lib/browser.ts';
