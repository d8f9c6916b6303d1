/**
 * The modes of `npm run eval` and `npm run bench`: how our net sizes its input and whether
 * it runs the flip test. Pure (the bench page imports it): bad input is a RangeError
 * naming the value, which the tools report as a usage error.
 *
 * - `square`: the input is resolution x resolution (or W x H), padded as TF.js PoseNet pads;
 * - `aspect`: `{ longSide: resolution }`, each image's input follows its aspect ratio;
 * - `flip`, `aspect+flip`: the same with the flip test (each image also runs mirrored and
 *   the heads are averaged before decoding).
 *
 * A row's `resolution` is the long side for the aspect modes, as the summary asks.
 */
export const EVAL_MODES = ['square', 'aspect', 'flip', 'aspect+flip'] as const;
export type EvalMode = (typeof EVAL_MODES)[number];

export interface Res {
  width: number;
  height: number;
}

/** What the page sets on our net for a mode at a resolution. */
export interface ModeSetting {
  resolution: Res | { longSide: number };
  flipTest: boolean;
}

export const isAspect = (mode: EvalMode): boolean => mode === 'aspect' || mode === 'aspect+flip';
export const hasFlip = (mode: EvalMode): boolean => mode === 'flip' || mode === 'aspect+flip';

/** Parses `--modes square,aspect,flip,aspect+flip`; a ToolError names an unknown mode. */
export function parseModes(text: string, flag = '--modes'): EvalMode[] {
  const names = text
    .split(',')
    .map((s) => s.trim())
    .filter(Boolean);
  if (!names.length) throw new RangeError(`${flag} is empty (expected some of ${EVAL_MODES.join(', ')})`);
  for (const n of names) {
    if (!(EVAL_MODES as readonly string[]).includes(n))
      throw new RangeError(`unknown mode "${n}" in ${flag} (expected ${EVAL_MODES.join(', ')})`);
  }
  return [...new Set(names)] as EvalMode[];
}

/** The net's setting for a mode; aspect modes take a square resolution as the long side. */
export function modeSetting(mode: EvalMode, res: Res): ModeSetting {
  if (isAspect(mode)) {
    if (res.width !== res.height)
      throw new RangeError(`mode ${mode} takes one number per resolution (the long side), not ${res.width}x${res.height}`);
    return { resolution: { longSide: res.width }, flipTest: hasFlip(mode) };
  }
  return { resolution: res, flipTest: hasFlip(mode) };
}

/** `257` for a square or a long side, `513x385` otherwise: the file and table label. */
export const resLabel = (r: Res): string => (r.width === r.height ? `${r.width}` : `${r.width}x${r.height}`);

/** The pixels of a resolution, for ordering and for the report's axes. */
export const resPixels = (r: Res): number => r.width * r.height;
