/**
 * Small helpers that write WGSL text from TypeScript: the unrolled parts of a tile
 * (accumulators, loads, products) come out as straight-line statements over NAMED
 * variables (`a3_1`, `v12`), never WGSL arrays. Named variables matter on SwiftShader,
 * which keeps a function-scope array in memory and then runs ~4x slower; on GPUs they
 * are what a register tile is anyway.
 */

/** `make(0) … make(count - 1)`, joined by `separator` (a newline by default). */
export function each(count: number, make: (i: number) => string, separator = '\n'): string {
  const out: string[] = [];
  for (let i = 0; i < count; i++) out.push(make(i));
  return out.join(separator);
}

/** `make(i, j)` for every i < rows and j < cols: one line per i, the j's on it joined by a space. */
export function grid(rows: number, cols: number, make: (i: number, j: number) => string): string {
  return each(rows, (i) => each(cols, (j) => make(i, j), ' '));
}

/** Indents every non-empty line after the first by `spaces` (for text placed inside a block). */
export function indent(text: string, spaces: number): string {
  const pad = ' '.repeat(spaces);
  return text
    .split('\n')
    .map((line, i) => (i === 0 || line === '' ? line : pad + line))
    .join('\n');
}

/** A u32 literal. */
export const u = (n: number): string => `${n}u`;
