/**
 * shaders (`npm run shaders`): the kernels' variants and their generated WGSL.
 *
 *   npm run shaders -- --list                 every kernel and variant, with what it is for
 *   npm run shaders -- --dump KIND VARIANT    the full WGSL of one variant, with line numbers
 *                                             (the numbers compile errors give)
 *   npm run shaders -- --dump KIND VARIANT --raw   the WGSL alone
 */
import { parseArgs } from 'node:util';

import { KERNEL_MODULES, KERNEL_NAMES } from '../src/kernels/index.ts';
import { findVariant, variantSource, type KernelName } from '../src/kernels/kernel.ts';
import { runTool, ToolError } from './lib/browser-run.ts';

const USAGE = 'usage: npm run shaders -- --list | --dump <kernel> <variant> [--raw]';

function list(): string {
  const out: string[] = [];
  for (const name of KERNEL_NAMES) {
    const k = KERNEL_MODULES[name];
    out.push(`${name}: ${k.summary}`);
    const width = Math.max(...k.variants.map((v) => v.name.length));
    for (const v of k.variants) {
      const needs = v.features?.length ? ` [needs ${v.features.join(', ')}]` : '';
      out.push(`  ${v.name.padEnd(width)}  ${v.summary}${needs}`);
    }
  }
  return out.join('\n');
}

async function main(): Promise<void> {
  let parsed;
  try {
    parsed = parseArgs({
      options: { list: { type: 'boolean' }, dump: { type: 'boolean' }, raw: { type: 'boolean' }, help: { type: 'boolean', short: 'h' } },
      allowPositionals: true,
    });
  } catch (err) {
    throw new ToolError(`${(err as Error).message}\n${USAGE}`);
  }
  const { values, positionals } = parsed;
  if (values.help || (!values.list && !values.dump)) {
    console.log(USAGE);
    if (!values.help) throw new ToolError('nothing to do: give --list or --dump');
    return;
  }
  if (values.list) {
    console.log(list());
    return;
  }
  const [kind, variant] = positionals;
  if (!kind || !variant || positionals.length > 2) throw new ToolError(`--dump needs a kernel and a variant\n${USAGE}`);
  if (!(KERNEL_NAMES as string[]).includes(kind)) throw new ToolError(`unknown kernel "${kind}" (kernels: ${KERNEL_NAMES.join(', ')})`);
  const kernel = KERNEL_MODULES[kind as KernelName];
  try {
    findVariant(kernel, variant);
  } catch (err) {
    throw new ToolError((err as Error).message);
  }
  const text = variantSource(kernel, variant);
  if (values.raw) {
    process.stdout.write(text);
    return;
  }
  const lines = text.split('\n');
  const w = String(lines.length).length;
  console.log(lines.map((l, i) => `${String(i + 1).padStart(w)}  ${l}`).join('\n'));
}

runTool('shaders', main);
