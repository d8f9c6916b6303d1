/**
 * The frontier half of `npm run eval` (tools/eval.ts runs it): our net in each mode
 * (tools/lib/eval-modes.ts) at each resolution, and the degraded-photograph scenarios
 * (tools/lib/degrade.ts), through the eval page; their results files, summary rows and
 * report sections (tools/lib/report-frontier.ts).
 *
 * Files under the output folder: `<mode>/results-<res>.json` per mode and resolution,
 * `scenarios/<scenario>/results-<res>.json` per scenario, `pareto.svg`.
 */
import path from 'node:path';

import type { EvalModesRequest, EvalModesResult, EvalRunRequest, EvalRunResult } from '../pages/eval.ts';
import type { ToolPage } from './runtime.ts';
import { evaluateKeypoints, matchPeople, type CocoDataset, type CocoResult, type EvalResult } from './coco-eval.ts';
import { SCENARIO_DESCRIPTIONS, transformDataset, type ScenarioName } from './degrade.ts';
import { modeSetting, resLabel, type EvalMode, type Res } from './eval-modes.ts';
import {
  aspectGoal,
  flipGains,
  flipTable,
  frontierSteps,
  frontierTable,
  paretoFront,
  paretoSvg,
  scenarioNeeds,
  scenarioTable,
  type FrontierRow,
  type ScenarioRow,
} from './report-frontier.ts';

/** Images per call of the page's runModes. */
const IMAGES_PER_CALL = 4;

export interface ModeRun {
  mode: EvalMode;
  resolution: Res;
  /** `257` (the long side for aspect modes) or `513x385`. */
  label: string;
  results: CocoResult[];
  ms: number[];
  candidates: [number, number][];
  evaluation: EvalResult;
  /** How many images ran at each input size (`513x353`: 12). */
  inputSizes: Record<string, number>;
}

export interface ScenarioRun extends ModeRun {
  scenario: ScenarioName;
  /** The clean photographs' run in the same mode at the same resolution. */
  clean: ModeRun;
}

export interface RunContext {
  page: ToolPage;
  gt: CocoDataset;
  names: string[];
  idByName: Map<string, number>;
  options: EvalRunRequest['options'];
  /** Writes a file under the output folder (reserved before the run: see tools/eval.ts). */
  write: (file: string, text: string) => void;
  /** Timed runs per image and mode (the least counts). */
  repeat: number;
  log: (line: string) => void;
}

export const median = (v: number[]): number => {
  const s = [...v].sort((a, b) => a - b);
  const n = s.length;
  return n ? (n % 2 ? s[(n - 1) / 2]! : (s[n / 2 - 1]! + s[n / 2]!) / 2) : Number.NaN;
};
const round = (v: number, d: number) => Math.round(v * 10 ** d) / 10 ** d;

/** COCO results (keypoints rounded to 0.01 px, scores to 1e-4) of a page run. */
export function toResults(run: EvalRunResult, idByName: Map<string, number>): CocoResult[] {
  return run.images.flatMap((img) =>
    img.poses.map((p) => ({
      image_id: idByName.get(img.name)!,
      category_id: 1,
      keypoints: p.keypoints.map((v, i) => (i % 3 === 2 ? round(v, 4) : round(v, 2))),
      score: round(p.score, 6),
    })),
  );
}

/**
 * Where a mode's results at a resolution go under the output folder (with a scenario, that
 * scenario's): `aspect/results-513.json`, `scenarios/blur/results-257.json`.
 */
export function resultsPath(mode: EvalMode, label: string, scenario?: ScenarioName): string {
  return path.join(scenario ? path.join('scenarios', scenario) : mode, `results-${label}.json`);
}

/**
 * Our net in several modes at one resolution on every image (optionally a scenario's
 * copies, evaluated against its `gt`), the modes interleaved image by image (see the eval
 * page's runModes). Writes each mode's results file.
 */
export async function runModes(
  ctx: RunContext,
  modes: EvalMode[],
  resolution: Res,
  scenario?: { name: ScenarioName; gt: CocoDataset },
): Promise<ModeRun[]> {
  const label = resLabel(resolution);
  const context = `${scenario ? `${scenario.name} ` : ''}${modes.join(',')} at ${label}`;
  const t0 = performance.now();
  // A few images per call: one page call must stay well inside the browser protocol's
  // timeout (30 min), which all images in four modes at 641 on SwiftShader overrun.
  const out: EvalModesResult = { runs: Object.fromEntries(modes.map((m) => [m, []])), errors: [] };
  for (let i = 0; i < ctx.names.length; i += IMAGES_PER_CALL) {
    const req: EvalModesRequest = {
      resolution,
      settings: modes.map((mode) => ({ key: mode, setting: modeSetting(mode, resolution) })),
      names: ctx.names.slice(i, i + IMAGES_PER_CALL),
      options: ctx.options,
      warmup: i === 0 ? 1 : 0,
      repeat: ctx.repeat,
      ...(scenario ? { scenario: scenario.name } : {}),
    };
    const part = await ctx.page.call<EvalModesResult>('runModes', req);
    if (part.errors.length) throw new Error(`GPU errors at ${context}:\n${part.errors.join('\n')}`);
    if (ctx.page.errors.length) throw new Error(`page errors at ${context}:\n${ctx.page.errors.join('\n')}`);
    for (const mode of modes) out.runs[mode]!.push(...part.runs[mode]!);
  }
  const seconds = (performance.now() - t0) / 1000;
  const runs = modes.map((mode) => {
    const images = out.runs[mode]!;
    const results = toResults({ images, errors: [] }, ctx.idByName);
    const inputSizes: Record<string, number> = {};
    for (const img of images) if (img.inputSize) inputSizes[img.inputSize] = (inputSizes[img.inputSize] ?? 0) + 1;
    const run: ModeRun = {
      mode,
      resolution,
      label,
      results,
      ms: images.map((i) => i.ms),
      candidates: images.map((i) => i.candidates ?? [0, 0]),
      evaluation: evaluateKeypoints(scenario?.gt ?? ctx.gt, results),
      inputSizes,
    };
    ctx.write(resultsPath(mode, label, scenario?.name), JSON.stringify(results));
    ctx.log(
      `${scenario ? `${scenario.name} ` : ''}${mode} ${label}: AP ${run.evaluation.ap.toFixed(3)}, ${median(run.ms).toFixed(0)} ms/frame, ${results.length} poses, ` +
        `inputs ${Object.entries(inputSizes)
          .map(([k, n]) => `${k}${n > 1 ? ` x${n}` : ''}`)
          .join(' ')}`,
    );
    return run;
  });
  ctx.log(`${context}: ${seconds.toFixed(0)} s`);
  return runs;
}

/**
 * Every scenario at every resolution in one mode. The clean baseline is that mode's run
 * at that resolution from `modeRuns`, or run here when the modes did not include it.
 */
export async function runScenarios(
  ctx: RunContext,
  scenarios: ScenarioName[],
  mode: EvalMode,
  resolutions: Res[],
  seed: number,
  modeRuns: ModeRun[],
): Promise<ScenarioRun[]> {
  const out: ScenarioRun[] = [];
  // Scenarios are about AP: one timed run per image is enough.
  ctx = { ...ctx, repeat: 1 };
  const cleanRuns = new Map<string, ModeRun>();
  for (const r of resolutions) {
    const label = resLabel(r);
    const existing = modeRuns.find((m) => m.mode === mode && m.label === label);
    cleanRuns.set(label, existing ?? (await runModes(ctx, [mode], r))[0]!);
  }
  for (const name of scenarios) {
    const made = await ctx.page.call<{ images: number; ms: number }>('degrade', { scenario: name, seed });
    ctx.log(`scenario ${name}: ${made.images} images degraded in ${(made.ms / 1000).toFixed(1)} s (${SCENARIO_DESCRIPTIONS[name]})`);
    const gt = transformDataset(ctx.gt, name);
    for (const r of resolutions) {
      const [run] = await runModes(ctx, [mode], r, { name, gt });
      out.push({ ...run!, scenario: name, clean: cleanRuns.get(resLabel(r))! });
    }
    await ctx.page.call('dropScenario', name);
  }
  return out;
}

export interface TfjsPoint {
  label: string;
  ap: number;
  ms: number;
}

/** Summary rows: one per mode and resolution (ours), as the issue asks, and TF.js's. */
export function summaryRows(modeRuns: ModeRun[]): Record<string, unknown>[] {
  return modeRuns.map((r) => ({
    mode: r.mode,
    resolution: r.label,
    AP: r.evaluation.ap,
    msPerFrame: median(r.ms),
    AP50: r.evaluation.ap50,
    AP75: r.evaluation.ap75,
    APm: r.evaluation.apMedium,
    APl: r.evaluation.apLarge,
    AR: r.evaluation.ar,
    poses: r.results.length,
    inputSizes: r.inputSizes,
    stats: r.evaluation.stats,
  }));
}

export function frontierRows(modeRuns: ModeRun[], tfjs: TfjsPoint[]): { ours: FrontierRow[]; tfjs: FrontierRow[] } {
  return {
    ours: modeRuns.map((r) => ({ mode: r.mode, resolution: r.label, AP: r.evaluation.ap, msPerFrame: median(r.ms) })),
    tfjs: tfjs.map((t) => ({ mode: 'tfjs', resolution: t.label, AP: t.ap, msPerFrame: t.ms })),
  };
}

/** The frontier's part of summary.json. */
export function frontierSummary(modeRuns: ModeRun[], tfjs: TfjsPoint[], goalResolution: string) {
  const rows = frontierRows(modeRuns, tfjs);
  return {
    pareto: paretoFront(rows.ours).map((r) => ({ mode: r.mode, resolution: r.resolution, AP: r.AP, msPerFrame: r.msPerFrame })),
    steps: frontierSteps(rows.ours, rows.tfjs),
    aspectGoal: aspectGoal(rows.ours, goalResolution),
    flip: flipGains(rows.ours),
  };
}

/** The scenarios' part of summary.json: AP per scenario and resolution against the clean set, and what each needs. */
export function scenarioSummary(runs: ScenarioRun[]) {
  const rows = scenarioRows(runs);
  const order = [...new Set(runs.map((r) => r.label))];
  const needs = scenarioNeeds(
    [
      ...rows,
      ...order.map((res) => ({ scenario: 'clean', resolution: res, AP: rows.find((r) => r.resolution === res)!.cleanAP, cleanAP: 0 })),
    ],
    order,
  );
  return {
    mode: runs[0]?.mode ?? null,
    rows: runs.map((r) => ({
      scenario: r.scenario,
      mode: r.mode,
      resolution: r.label,
      AP: r.evaluation.ap,
      cleanAP: r.clean.evaluation.ap,
      msPerFrame: median(r.ms),
      AR: r.evaluation.ar,
      poses: r.results.length,
      inputSizes: r.inputSizes,
    })),
    needs: Object.fromEntries(needs),
  };
}

function scenarioRows(runs: ScenarioRun[]): ScenarioRow[] {
  return runs.map((r) => ({ scenario: r.scenario, resolution: r.label, AP: r.evaluation.ap, cleanAP: r.clean.evaluation.ap }));
}

/** The report's frontier section: chart, frontier table, the aspect goal, the flip test. */
/**
 * Where square and aspect inputs differ person by person: the mean over annotated people of
 * their best OKS in each mode, how many people's best OKS moved by more than 0.1, and how
 * many of those touch the image's border (their box within `edgePx` of an edge), where the
 * two inputs differ most: square pads with black, aspect leaves the network's own zero
 * padding (a mid-grey in its normalised input) against the picture.
 */
export function personDiff(gt: CocoDataset, square: ModeRun, aspect: ModeRun, edgePx = 8) {
  const s = matchPeople(gt, square.results);
  const a = matchPeople(gt, aspect.results);
  const size = new Map(gt.images.map((i) => [i.id, i]));
  let moved = 0;
  let atEdge = 0;
  s.forEach((m, i) => {
    if (Math.abs(m.bestOks - a[i]!.bestOks) <= 0.1) return;
    moved++;
    const img = size.get(m.annotation.image_id)!;
    const [x, y, w, h] = m.annotation.bbox;
    if (Math.min(x, y, img.width - (x + w), img.height - (y + h)) <= edgePx) atEdge++;
  });
  const mean = (ms: { bestOks: number }[]) => ms.reduce((t, m) => t + m.bestOks, 0) / Math.max(1, ms.length);
  return { people: s.length, squareOks: mean(s), aspectOks: mean(a), moved, atEdge, edgePx };
}

export function frontierSection(
  modeRuns: ModeRun[],
  tfjs: TfjsPoint[],
  env: { adapter: string; goalResolution: string; swiftShader: boolean; gt: CocoDataset },
): { markdown: string; svg: string } {
  const rows = frontierRows(modeRuns, tfjs);
  const svg = paretoSvg([...rows.ours, ...rows.tfjs]);
  const L: string[] = [];
  L.push('## The speed–accuracy frontier');
  L.push('');
  L.push(
    'Every mode at every resolution: `square` pads each image to a square input as TF.js PoseNet does; `aspect` sizes the input to the image ' +
      '(`{ longSide }`: the long side is the resolution, the short side the smallest k·16+1 that holds it, so less than one output stride of padding); ' +
      '`flip` and `aspect+flip` also run each image mirrored and average the heads (left and right parts swapped, x offsets and displacements negated) on the GPU before decoding. ' +
      `ms/frame is the median end-to-end time of one multi-pose call (upload, every GPU pass, readback, the CPU decode) on ${env.adapter}, and TF.js PoseNet's likewise.` +
      (env.swiftShader
        ? ' This adapter is SwiftShader, a CPU implementation of Vulkan: its milliseconds show the shape of the frontier (how cost grows with pixels and passes), not what a GPU does.'
        : ''),
  );
  L.push('');
  L.push(svg);
  L.push('');
  L.push(
    "(Also in `pareto.svg`.) For each ms budget, the best configuration within it and TF.js PoseNet's best within the same budget (a row wherever either changes):",
  );
  L.push('');
  L.push(frontierTable(frontierSteps(rows.ours, rows.tfjs)));
  L.push('');
  const goal = aspectGoal(rows.ours, env.goalResolution);
  L.push(`### Padding: square against aspect at ${env.goalResolution}`);
  L.push('');
  if (goal) {
    const aspectRun = modeRuns.find((r) => r.mode === 'aspect' && r.label === env.goalResolution)!;
    const squareRun = modeRuns.find((r) => r.mode === 'square' && r.label === env.goalResolution)!;
    const sizes = aspectRun.inputSizes;
    const paired = pairedRatio(aspectRun, squareRun);
    const people = personDiff(env.gt, squareRun, aspectRun);
    L.push(
      `Goal: aspect AP within 0.005 of square AP at no more than 0.8 of square's ms, measured in this run. ` +
        `Square ${env.goalResolution}: AP ${goal.squareAP.toFixed(3)} at ${goal.squareMs.toFixed(0)} ms; aspect: AP ${goal.aspectAP.toFixed(3)} ` +
        `(${goal.apDelta >= 0 ? '+' : ''}${goal.apDelta.toFixed(3)}) at ${goal.aspectMs.toFixed(0)} ms (${goal.msRatio.toFixed(2)} of square's). ` +
        `**${goal.met ? 'Met' : 'Not met'}.** The aspect inputs were ${Object.entries(sizes)
          .sort((a, b) => b[1] - a[1])
          .map(([k, n]) => `${k} (${n})`)
          .join(', ')}: ${paired.pixelRatio.toFixed(2)} of the square's pixels on average. ` +
        `Image by image (both modes ran each image back to back), aspect took a median ${paired.median.toFixed(2)} of square's time (quartiles ${paired.q1.toFixed(2)}–${paired.q3.toFixed(2)}). ` +
        `Person by person, the mean best OKS over the ${people.people} annotated people is ${people.squareOks.toFixed(3)} (square) and ${people.aspectOks.toFixed(3)} (aspect); ` +
        `${people.moved} people's best OKS moved by more than 0.1 between the two, ${people.atEdge} of them touching the image's border (within ${people.edgePx} px), ` +
        "where the inputs differ most: square pads with black, aspect leaves the network's zero padding (mid-grey in its normalised input) against the picture.",
    );
  } else {
    L.push(`Not measured: the run needs both \`square\` and \`aspect\` at ${env.goalResolution}.`);
  }
  L.push('');
  const gains = flipGains(rows.ours);
  if (gains.length) {
    L.push('### The flip test: AP gained and ms paid');
    L.push('');
    L.push(flipTable(gains));
    L.push('');
  }
  return { markdown: L.join('\n'), svg };
}

/** Per image, aspect ms / square ms (the two ran back to back), and the mean share of the square's pixels the aspect inputs had. */
export function pairedRatio(aspect: ModeRun, square: ModeRun): { median: number; q1: number; q3: number; pixelRatio: number } {
  const ratios = aspect.ms.map((ms, i) => ms / square.ms[i]!).sort((a, b) => a - b);
  const q = (p: number) => ratios[Math.min(ratios.length - 1, Math.max(0, Math.round(p * (ratios.length - 1))))]!;
  const side = square.resolution.width * square.resolution.height;
  let pixels = 0;
  let n = 0;
  for (const [size, count] of Object.entries(aspect.inputSizes)) {
    const [w, h] = size.split('x').map(Number) as [number, number];
    pixels += ((w * h) / side) * count;
    n += count;
  }
  return { median: median(ratios), q1: q(0.25), q3: q(0.75), pixelRatio: n ? pixels / n : Number.NaN };
}

/** The report's degraded-photographs section. */
export function scenarioSection(runs: ScenarioRun[], seed: number): string {
  if (!runs.length) return '';
  const order = [...new Set(runs.map((r) => r.label))];
  const rows = scenarioRows(runs);
  const L: string[] = [];
  L.push('## Degraded photographs');
  L.push('');
  L.push(
    `The same photographs degraded in the page, deterministically (seed ${seed}, drawn per image from its file name), each against the clean set, in mode \`${runs[0]!.mode}\`; ` +
      'annotations move with the pixels (rotations, shrinking). "needs" is the smallest resolution within 0.01 AP of the best that scenario reached over the resolutions run.',
  );
  L.push('');
  L.push(scenarioTable(rows, order, SCENARIO_DESCRIPTIONS));
  L.push('');
  const needs = scenarioNeeds(rows, order);
  const worst = [...new Set(runs.map((r) => r.scenario))]
    .map((s) => {
      const top = order[order.length - 1]!;
      const r = rows.find((x) => x.scenario === s && x.resolution === top)!;
      return { s, drop: r.cleanAP - r.AP, top };
    })
    .sort((a, b) => b.drop - a.drop);
  L.push(
    `At ${order[order.length - 1]}, ${worst.map((w) => `${w.s} costs ${w.drop.toFixed(3)} AP`).join(', ')}. ` +
      `Resolution each scenario needs: ${[...needs].map(([s, n]) => (n.resolution === 'none' ? `${s}: none of these (best AP ${n.bestAP.toFixed(3)})` : `${s} ${n.resolution}`)).join(', ')}.`,
  );
  L.push('');
  return L.join('\n');
}
