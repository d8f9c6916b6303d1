/**
 * The demo page in a Chromium launched without WebGPU: instead of a blank canvas it
 * explains what is missing and what to do (which browsers, which flag).
 */
import type { Browser } from 'puppeteer';
import type { ViteDevServer } from 'vite';
import { afterAll, beforeAll, expect, it } from 'vitest';
import { outputFile } from './support/app-page.ts';
import { collectPageErrors, launchBrowser, startServer } from './support/browser.ts';

let server: ViteDevServer;
let url: string;
let browser: Browser;

beforeAll(async () => {
  const s = await startServer();
  server = s.server;
  url = s.url;
  browser = await launchBrowser({ noWebGPU: true });
});

afterAll(async () => {
  await browser?.close();
  await server?.close();
});

it('explains, without WebGPU, what is missing and what to do', async () => {
  const page = await browser.newPage();
  await page.setViewport({ width: 1200, height: 700 });
  const errors = collectPageErrors(page);
  await page.goto(url);
  await page.waitForSelector('#explain', { timeout: 60_000 });
  const shown = await page.evaluate(async () => ({
    started: await window.poseApp.started,
    problem: window.poseApp.problem?.problem,
    status: window.poseApp.status,
    text: document.getElementById('explain')!.innerText,
    canvas: !!document.querySelector('canvas'),
    gpu: 'gpu' in navigator && !!navigator.gpu,
  }));
  console.log(
    `[app test] without WebGPU (navigator.gpu ${shown.gpu ? 'present, no adapter' : 'missing'}): ${shown.problem}\n${shown.text}`,
  );
  expect(shown.started).toBe(false);
  expect(shown.status).toBe('failed');
  expect(['no-webgpu', 'no-adapter']).toContain(shown.problem);
  expect(shown.text).toMatch(/WebGPU is (not available in this browser|present, but the browser refused a GPU adapter)/);
  expect(shown.text).toContain('What to do');
  expect(shown.text).toContain('Chrome or Edge 113');
  expect(shown.text).toContain('chrome://flags/#enable-unsafe-webgpu');
  expect(shown.canvas).toBe(false);
  expect(errors).toEqual([]);
  await page.screenshot({ path: outputFile('app-no-webgpu.png') });
});

it('explains a browser without navigator.gpu (no WebGPU at all)', async () => {
  const page = await browser.newPage();
  const errors = collectPageErrors(page);
  // As in a browser that has never heard of WebGPU.
  await page.evaluateOnNewDocument(() => {
    delete (Navigator.prototype as unknown as { gpu?: unknown }).gpu;
  });
  await page.goto(url);
  await page.waitForSelector('#explain', { timeout: 60_000 });
  const shown = await page.evaluate(() => ({
    problem: window.poseApp.problem?.problem,
    text: document.getElementById('explain')!.innerText,
  }));
  expect(shown.problem).toBe('no-webgpu');
  expect(shown.text).toContain('WebGPU is not available in this browser');
  expect(shown.text).toContain('navigator.gpu is missing');
  expect(shown.text).toContain('chrome://flags/#enable-unsafe-webgpu');
  expect(shown.text).toContain('Safari 26');
  expect(errors).toEqual([]);
});
