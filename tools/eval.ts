/**
 * `npm run eval -- --data <dir> [--resolutions 161,257,321,481,641,801] [--model <name>] [--out <dir>]
 *                  [--modes square,aspect,flip,aspect+flip] [--scenarios all]
 *                  [--runtime browser|node] [--adapter list | <adapter>]`
 *
 * COCO keypoint accuracy and speed of our multi-pose PoseNet at several input resolutions,
 * against TF.js PoseNet 2.2.2 (same model, same decoder settings) on the same images:
 *
 * - `<dir>` holds `person_keypoints.json` (COCO format) and `images/`.
 * - Every image at every resolution through our `estimateMultiplePoses` (headless Chromium,
 *   WebGPU; or Node on Dawn with --runtime node) and TF.js PoseNet's `estimateMultiplePoses`
 *   (wasm backend by default in the browser, webgpu in Node), with
 *   maxDetections 20, scoreThreshold 0.1, nmsRadius 20 unless flags say otherwise.
 * - `--modes` (tools/lib/eval-modes.ts; default `square`): how our net sizes its input
 *   (`square` as TF.js, or `aspect`: `{ longSide }`) and whether it runs the flip test.
 * - Writes `<out>/<mode>/results-<res>.json` (ours, each mode) and
 *   `<out>/tfjs/results-<res>.json` in COCO results format (`results-257.json` for a
 *   square 257 or a long side 257, `results-513x385.json` otherwise), `<out>/summary.json`
 *   (`rows`: one `{ mode, resolution, AP, msPerFrame, ... }` per mode and resolution;
 *   `tfjs`; `frontier`; `degradations`), `<out>/chart.svg`, `<out>/pareto.svg` and
 *   `<out>/report.md` (and the same as `<out>/report.html`): COCO keypoint AP (OKS, pycocotools semantics:
 *   tools/lib/coco-eval.ts), ms per frame (median end to end), the speed–accuracy
 *   frontier of the modes against TF.js (tools/lib/eval-frontier.ts), and the
 *   difficult-scenario sections (person size, crowded images, occluded keypoints, the
 *   keypoints lost first as the resolution drops; the tables per resolution follow the
 *   first mode of `square`, `aspect`, ... that ran).
 * - `--scenarios blur,lowlight,jpeg,rot90,rot180,small` or `all` (tools/lib/degrade.ts):
 *   the photographs degraded in the page (seeded by `--seed`), run in `--scenario-mode`
 *   (default `aspect` when it is among the modes, else the first mode) at
 *   `--scenario-resolutions` (default `--resolutions`), written to
 *   `<out>/scenarios/<scenario>/results-<res>.json` and reported against the clean set.
 * - Our modes run image by image (every mode on an image, then the next image), so their
 *   times pair up under a load that changes; `--repeat N` times each image N times in
 *   each mode and keeps the least (a shared machine's interruptions only add time).
 */
import fs from 'node:fs';
import path from 'node:path';
import { parseArgs } from 'node:util';

import { PART_NAMES } from '../src/pose/keypoints.ts';
import { maybeListAdapters, openRuntime, RUNTIME_OPTIONS, RUNTIME_USAGE, runtimeOptions, type RuntimeOptions } from './lib/runtime.ts';
import { DEFAULT_MODEL, parseResolution, readManifest, repoRoot, runTool, ToolError } from './lib/tool.ts';
import { jsonIsOurs, MiB, OutputFile, readInputFile, userPath } from './lib/cli.ts';
import {
  evaluateKeypoints,
  matchPeople,
  NUM_COCO_KEYPOINTS,
  type CocoDataset,
  type CocoResult,
  type EvalResult,
  type PersonMatch,
} from './lib/coco-eval.ts';
import { parseScenarios, type ScenarioName } from './lib/degrade.ts';
import {
  frontierSection,
  frontierSummary,
  median,
  runModes,
  runScenarios,
  scenarioSection,
  scenarioSummary,
  summaryRows,
  resultsPath,
  toResults,
  type ModeRun,
  type ScenarioRun,
  type TfjsPoint,
} from './lib/eval-frontier.ts';
import { EVAL_MODES, modeSetting, parseModes, resLabel, type EvalMode } from './lib/eval-modes.ts';
import { reportHtml } from './lib/report-html.ts';
import type { EvalOpenRequest, EvalRunRequest, EvalRunResult, Res } from './pages/eval.ts';
import type { TfjsBackendName } from './pages/tfjs-reference.ts';

const USAGE = `usage: npm run eval -- --data <dir> [--resolutions 161,257,321,481,641,801] [--model <name>] [--out <dir>]
  [--modes ${EVAL_MODES.join(',')}] [--scenarios all|blur,lowlight,jpeg,rot90,rot180,small] [--scenario-mode <mode>]
  [--scenario-resolutions 257,513] [--seed 1] [--goal-resolution 513] [--repeat 1]
  [--max-detections 20] [--score-threshold 0.1] [--nms-radius 20] [--tfjs-backend wasm|cpu|webgl|webgpu|none] [--limit N]
  ${RUNTIME_USAGE}`;

/** TF.js backends per runtime; the first is the default. */
const TFJS_BACKENDS_BY_RUNTIME = { browser: ['wasm', 'cpu', 'webgl', 'webgpu'], node: ['webgpu', 'cpu'] } as const;

interface Args {
  data: string;
  resolutions: Res[];
  model: string;
  out: string;
  maxDetections: number;
  scoreThreshold: number;
  nmsRadius: number;
  backend: TfjsBackendName | null;
  limit: number;
  runtime: RuntimeOptions;
  modes: EvalMode[];
  scenarios: ScenarioName[];
  scenarioMode: EvalMode;
  scenarioResolutions: Res[];
  seed: number;
  goalResolution: string;
  repeat: number;
}

async function parse(): Promise<Args> {
  let values;
  try {
    ({ values } = parseArgs({
      options: {
        data: { type: 'string' },
        resolutions: { type: 'string', default: '161,257,321,481,641,801' },
        model: { type: 'string', default: DEFAULT_MODEL },
        out: { type: 'string', default: 'out/eval' },
        'max-detections': { type: 'string', default: '20' },
        'score-threshold': { type: 'string', default: '0.1' },
        'nms-radius': { type: 'string', default: '20' },
        'tfjs-backend': { type: 'string' },
        limit: { type: 'string', default: '0' },
        ...RUNTIME_OPTIONS,
        modes: { type: 'string', default: 'square' },
        scenarios: { type: 'string', default: 'none' },
        'scenario-mode': { type: 'string' },
        'scenario-resolutions': { type: 'string' },
        seed: { type: 'string', default: '1' },
        'goal-resolution': { type: 'string', default: '513' },
        repeat: { type: 'string', default: '1' },
        help: { type: 'boolean', short: 'h' },
      },
      strict: true,
    }));
  } catch (err) {
    throw new ToolError(`${(err as Error).message}\n${USAGE}`);
  }
  if (values.help) {
    console.log(USAGE);
    process.exit(0);
  }
  const runtime = runtimeOptions(values);
  if (await maybeListAdapters('eval', runtime)) process.exit(0);
  if (!values.data) throw new ToolError(`--data <dir> is required\n${USAGE}`);
  const num = (flag: string, v: string, ok: (n: number) => boolean, what: string) => {
    const n = Number(v);
    if (!Number.isFinite(n) || !ok(n)) throw new ToolError(`invalid --${flag} "${v}": ${what}`);
    return n;
  };
  const backends: readonly string[] = TFJS_BACKENDS_BY_RUNTIME[runtime.runtime];
  const backend = values['tfjs-backend'] ?? backends[0]!;
  if (![...backends, 'none'].includes(backend))
    throw new ToolError(`invalid --tfjs-backend "${backend}" under --runtime ${runtime.runtime}: ${backends.join(', ')} or none`);
  const resolutions = values.resolutions!.split(',').map((r) => parseResolution(r, '--resolutions'));
  const usage = <T>(fn: () => T): T => {
    try {
      return fn();
    } catch (err) {
      throw new ToolError((err as Error).message);
    }
  };
  const modes = usage(() => parseModes(values.modes!));
  const scenarios: ScenarioName[] = usage(() => parseScenarios(values.scenarios!));
  const scenarioMode = values['scenario-mode']
    ? usage(() => parseModes(values['scenario-mode']!, '--scenario-mode'))[0]!
    : modes.includes('aspect')
      ? 'aspect'
      : modes[0]!;
  const scenarioResolutions = values['scenario-resolutions']
    ? values['scenario-resolutions'].split(',').map((r) => parseResolution(r, '--scenario-resolutions'))
    : resolutions;
  // Aspect modes take one number per resolution: check now, not after an hour of running.
  for (const mode of modes) for (const r of resolutions) usage(() => modeSetting(mode, r));
  if (scenarios.length) for (const r of scenarioResolutions) usage(() => modeSetting(scenarioMode, r));
  return {
    data: values.data,
    resolutions,
    modes,
    scenarios,
    scenarioMode,
    scenarioResolutions,
    seed: num('seed', values.seed!, (n) => Number.isInteger(n) && n >= 0, 'an integer >= 0'),
    goalResolution: values['goal-resolution']!,
    repeat: num('repeat', values.repeat!, (n) => Number.isInteger(n) && n >= 1, 'an integer >= 1'),
    model: values.model!,
    out: values.out!,
    maxDetections: num('max-detections', values['max-detections']!, (n) => Number.isInteger(n) && n > 0, 'an integer > 0'),
    scoreThreshold: num('score-threshold', values['score-threshold']!, (n) => n >= 0 && n <= 1, 'in [0, 1]'),
    nmsRadius: num('nms-radius', values['nms-radius']!, (n) => n > 0, '> 0'),
    backend: backend === 'none' ? null : (backend as TfjsBackendName),
    limit: num('limit', values.limit!, (n) => Number.isInteger(n) && n >= 0, 'an integer >= 0'),
    runtime,
  };
}

const mean = (v: number[]) => (v.length ? v.reduce((a, b) => a + b, 0) / v.length : NaN);
const f3 = (v: number) => (v < 0 || !Number.isFinite(v) ? '–' : v.toFixed(3));

interface ResolutionRun {
  resolution: Res;
  ours: CocoResult[];
  tfjs: CocoResult[] | null;
  oursMs: number[];
  tfjsMs: number[];
  candidates: [number, number][];
  evalOurs: EvalResult;
  evalTfjs: EvalResult | null;
}

// ---------------------------------------------------------------------------------------
// Difficult scenarios

type SizeName = 'small' | 'medium' | 'large';
const sizeOf = (area: number): SizeName => (area < 32 ** 2 ? 'small' : area < 96 ** 2 ? 'medium' : 'large');

function peopleCounts(gt: CocoDataset): Map<number, number> {
  const n = new Map<number, number>(gt.images.map((i) => [i.id, 0]));
  for (const a of gt.annotations) if (!a.iscrowd && a.num_keypoints > 0) n.set(a.image_id, (n.get(a.image_id) ?? 0) + 1);
  return n;
}

interface Scenarios {
  sizes: { size: SizeName; n: number; byRes: { found: number; meanOks: number }[] }[];
  crowd: {
    crowdedIds: number[];
    singleIds: number[];
    byRes: { crowded: EvalResult; single: EvalResult; crowdedTfjs: EvalResult | null; singleTfjs: EvalResult | null }[];
  };
  /** People found (OKS >= 0.5) at the highest resolution: the fixed set the keypoint tables follow. */
  tracked: number;
  /** [res][keypoint] mean OKS term over tracked people where the keypoint is labelled. */
  keypointOks: number[][];
  /** [res][keypoint] {visible (v=2), occluded (v=1)} mean OKS terms and counts. */
  visibility: { visible: number; occluded: number; nVisible: number; nOccluded: number }[][];
}

function scenarios(gt: CocoDataset, runs: ResolutionRun[]): Scenarios {
  const matches: PersonMatch[][] = runs.map((r) => matchPeople(gt, r.ours));
  const sizes = (['small', 'medium', 'large'] as SizeName[]).map((size) => {
    const idx = matches[0]!
      .map((m, i) => [m, i] as const)
      .filter(([m]) => sizeOf(m.annotation.area) === size)
      .map(([, i]) => i);
    return {
      size,
      n: idx.length,
      byRes: matches.map((ms) => ({
        found: idx.filter((i) => ms[i]!.bestOks >= 0.5).length / Math.max(1, idx.length),
        meanOks: mean(idx.map((i) => ms[i]!.bestOks)),
      })),
    };
  });
  const counts = peopleCounts(gt);
  const crowdedIds = [...counts].filter(([, n]) => n >= 3).map(([id]) => id);
  const singleIds = [...counts].filter(([, n]) => n === 1).map(([id]) => id);
  const crowd = {
    crowdedIds,
    singleIds,
    byRes: runs.map((r) => ({
      crowded: evaluateKeypoints(gt, r.ours, { imgIds: crowdedIds }),
      single: evaluateKeypoints(gt, r.ours, { imgIds: singleIds }),
      crowdedTfjs: r.tfjs ? evaluateKeypoints(gt, r.tfjs, { imgIds: crowdedIds }) : null,
      singleTfjs: r.tfjs ? evaluateKeypoints(gt, r.tfjs, { imgIds: singleIds }) : null,
    })),
  };
  // Track the people found at the highest resolution through every resolution.
  let hi = 0;
  runs.forEach((r, i) => {
    if (r.resolution.width * r.resolution.height > runs[hi]!.resolution.width * runs[hi]!.resolution.height) hi = i;
  });
  const tracked = matches[hi]!.map((m, i) => [m, i] as const)
    .filter(([m]) => m.bestOks >= 0.5)
    .map(([, i]) => i);
  const keypointOks = matches.map((ms) =>
    Array.from({ length: NUM_COCO_KEYPOINTS }, (_, k) => {
      const terms: number[] = [];
      for (const i of tracked) {
        const m = ms[i]!;
        if (!(m.annotation.keypoints[3 * k + 2]! > 0)) continue;
        terms.push(m.perKeypoint?.[k] ?? 0);
      }
      return mean(terms);
    }),
  );
  const visibility = matches.map((ms) =>
    Array.from({ length: NUM_COCO_KEYPOINTS }, (_, k) => {
      const vis: number[] = [];
      const occ: number[] = [];
      for (const i of tracked) {
        const m = ms[i]!;
        const v = m.annotation.keypoints[3 * k + 2]!;
        const term = m.perKeypoint?.[k] ?? 0;
        if (v === 2) vis.push(term);
        else if (v === 1) occ.push(term);
      }
      return { visible: mean(vis), occluded: mean(occ), nVisible: vis.length, nOccluded: occ.length };
    }),
  );
  return { sizes, crowd, tracked: tracked.length, keypointOks, visibility };
}

// ---------------------------------------------------------------------------------------
// Chart

function chartSvg(runs: ResolutionRun[]): string {
  const W = 720;
  const H = 360;
  const m = { l: 60, r: 70, t: 40, b: 50 };
  const xs = runs.map((r) => Math.sqrt(r.resolution.width * r.resolution.height));
  const xMin = Math.min(...xs);
  const xMax = Math.max(...xs);
  const x = (v: number) => m.l + ((v - xMin) / Math.max(1, xMax - xMin)) * (W - m.l - m.r);
  const aps = runs.flatMap((r) => [r.evalOurs.ap, r.evalTfjs?.ap ?? 0]);
  const apMax = Math.max(0.1, Math.ceil(Math.max(...aps) * 10 + 0.5) / 10);
  const msAll = runs.flatMap((r) => [median(r.oursMs), r.tfjsMs.length ? median(r.tfjsMs) : 0]);
  const msStep = niceStep(Math.max(...msAll) / 5);
  const msMax = Math.ceil(Math.max(...msAll) / msStep) * msStep || 1;
  const yAp = (v: number) => H - m.b - (v / apMax) * (H - m.t - m.b);
  const yMs = (v: number) => H - m.b - (v / msMax) * (H - m.t - m.b);
  const line = (pts: [number, number][], color: string, dash: boolean, label: string) =>
    `<polyline fill="none" stroke="${color}" stroke-width="2.5"${dash ? ' stroke-dasharray="7 5"' : ''} points="${pts.map(([a, b]) => `${a.toFixed(1)},${b.toFixed(1)}`).join(' ')}"><title>${label}</title></polyline>` +
    pts.map(([a, b]) => `<circle cx="${a.toFixed(1)}" cy="${b.toFixed(1)}" r="3.5" fill="${color}"/>`).join('');
  const parts: string[] = [];
  parts.push(
    `<svg xmlns="http://www.w3.org/2000/svg" width="${W}" height="${H}" viewBox="0 0 ${W} ${H}" font-family="sans-serif" font-size="12">`,
  );
  parts.push(`<rect width="${W}" height="${H}" fill="white"/>`);
  parts.push(
    `<text x="${W / 2}" y="20" text-anchor="middle" font-size="14">COCO keypoint AP and ms per frame against input resolution</text>`,
  );
  for (let i = 0; i <= 5; i++) {
    const v = (apMax * i) / 5;
    parts.push(`<line x1="${m.l}" x2="${W - m.r}" y1="${yAp(v)}" y2="${yAp(v)}" stroke="#ddd"/>`);
    parts.push(`<text x="${m.l - 6}" y="${yAp(v) + 4}" text-anchor="end" fill="#1f5fa8">${v.toFixed(2)}</text>`);
  }
  for (let v = 0; v <= msMax + 1e-9; v += msStep)
    parts.push(`<text x="${W - m.r + 6}" y="${yMs(v) + 4}" fill="#c8621b">${Math.round(v)}</text>`);
  runs.forEach((r, i) => {
    parts.push(`<text x="${x(xs[i]!)}" y="${H - m.b + 18}" text-anchor="middle">${resLabel(r.resolution)}</text>`);
  });
  parts.push(`<text x="${(m.l + W - m.r) / 2}" y="${H - 12}" text-anchor="middle">input resolution (px)</text>`);
  parts.push(`<text transform="translate(16 ${H / 2}) rotate(-90)" text-anchor="middle" fill="#1f5fa8">AP (OKS 0.50:0.95)</text>`);
  parts.push(`<text transform="translate(${W - 14} ${H / 2}) rotate(90)" text-anchor="middle" fill="#c8621b">ms per frame (median)</text>`);
  parts.push(`<line x1="${m.l}" x2="${W - m.r}" y1="${H - m.b}" y2="${H - m.b}" stroke="#333"/>`);
  parts.push(
    line(
      runs.map((r, i) => [x(xs[i]!), yAp(r.evalOurs.ap)]),
      '#1f5fa8',
      false,
      'AP, ours',
    ),
  );
  if (runs.every((r) => r.evalTfjs))
    parts.push(
      line(
        runs.map((r, i) => [x(xs[i]!), yAp(r.evalTfjs!.ap)]),
        '#1f5fa8',
        true,
        'AP, TF.js PoseNet',
      ),
    );
  parts.push(
    line(
      runs.map((r, i) => [x(xs[i]!), yMs(median(r.oursMs))]),
      '#c8621b',
      false,
      'ms, ours',
    ),
  );
  if (runs.every((r) => r.tfjsMs.length))
    parts.push(
      line(
        runs.map((r, i) => [x(xs[i]!), yMs(median(r.tfjsMs))]),
        '#c8621b',
        true,
        'ms, TF.js PoseNet',
      ),
    );
  const legend: [string, boolean, string][] = [
    ['#1f5fa8', false, 'AP, ours (WebGPU)'],
    ['#1f5fa8', true, 'AP, TF.js PoseNet'],
    ['#c8621b', false, 'ms/frame, ours'],
    ['#c8621b', true, 'ms/frame, TF.js'],
  ];
  legend.forEach(([color, dash, label], i) => {
    const lx = m.l + 10 + i * 150;
    parts.push(
      `<line x1="${lx}" x2="${lx + 26}" y1="${m.t - 4}" y2="${m.t - 4}" stroke="${color}" stroke-width="2.5"${dash ? ' stroke-dasharray="7 5"' : ''}/>`,
    );
    parts.push(`<text x="${lx + 32}" y="${m.t}">${label}</text>`);
  });
  parts.push('</svg>');
  return parts.join('\n');
}

function niceStep(raw: number): number {
  const p = 10 ** Math.floor(Math.log10(Math.max(raw, 1e-9)));
  for (const s of [1, 2, 5, 10]) if (s * p >= raw) return s * p;
  return 10 * p;
}

// ---------------------------------------------------------------------------------------
// Report

function report(
  args: Args,
  gt: CocoDataset,
  runs: ResolutionRun[],
  sc: Scenarios,
  env: { adapter: string; backend: string; seconds: number },
  svg: string,
  extra: { primaryMode: EvalMode; sections: string },
): string {
  const L: string[] = [];
  const people = gt.annotations.filter((a) => !a.iscrowd && a.num_keypoints > 0).length;
  const labels = runs.map((r) => resLabel(r.resolution));
  L.push(`# PoseNet multi-pose: COCO keypoint AP and speed against input resolution`);
  L.push('');
  L.push(
    `Model \`${args.model}\`; ${gt.images.length} images of \`${args.data}\` with ${people} annotated people (${gt.annotations.length} person annotations). ` +
      `Multi-pose decoding with maxDetections ${args.maxDetections}, scoreThreshold ${args.scoreThreshold}, nmsRadius ${args.nmsRadius}; ` +
      `fit \`pad\` (as TF.js PoseNet). Ours: WebGPU on ${env.adapter}; the tables per resolution below are mode \`${extra.primaryMode}\` (the modes are compared in "The speed–accuracy frontier"). TF.js PoseNet 2.2.2 on the same images with the same model and settings: ${env.backend || 'not run'}. ` +
      `AP is COCO keypoint AP (OKS thresholds 0.50:0.05:0.95, 101 recall points, up to 20 detections per image, crowd and keypoint-less people ignored, as pycocotools). ` +
      `ms/frame is the median over the images of one end-to-end call (source image to poses on the CPU). Evaluation took ${Math.round(env.seconds)} s.`,
  );
  L.push('');
  L.push('## AP and speed per resolution');
  L.push('');
  L.push('| resolution | AP | AP50 | AP75 | AP medium | AP large | AR | ms/frame | TF.js AP | \\|Δ AP\\| | TF.js ms/frame |');
  L.push('| --- | --- | --- | --- | --- | --- | --- | --- | --- | --- | --- |');
  for (const r of runs) {
    const e = r.evalOurs;
    const t = r.evalTfjs;
    L.push(
      `| ${resLabel(r.resolution)} | ${f3(e.ap)} | ${f3(e.ap50)} | ${f3(e.ap75)} | ${f3(e.apMedium)} | ${f3(e.apLarge)} | ${f3(e.ar)} | ${median(r.oursMs).toFixed(0)} | ` +
        `${t ? f3(t.ap) : '–'} | ${t ? Math.abs(e.ap - t.ap).toFixed(3) : '–'} | ${r.tfjsMs.length ? median(r.tfjsMs).toFixed(0) : '–'} |`,
    );
  }
  L.push('');
  L.push(svg);
  L.push('');
  L.push(
    '(Also in `chart.svg`.) Speed here is on whatever WebGPU adapter ran the evaluation; on a CPU-emulated adapter (SwiftShader) it shows how the cost grows with the pixel count, not what a GPU does.',
  );
  L.push('');
  L.push('## Difficult scenarios');
  L.push('');
  L.push('### Person size');
  L.push('');
  L.push(
    'COCO keypoint AP has no range for small people (area < 32² px): they count only inside AP "all", and AP medium / large above cover the rest. ' +
      'Here each size gets its own figures over every annotated person (not crowd, with labelled keypoints): ' +
      'the best OKS of any of the image\'s detections, and "found", the share with best OKS >= 0.5 (recall at the loosest COCO threshold).',
  );
  L.push('');
  L.push(`| size | people | ${labels.map((l) => `found @${l}`).join(' | ')} | ${labels.map((l) => `mean OKS @${l}`).join(' | ')} |`);
  L.push(`| --- | --- | ${labels.map(() => '---').join(' | ')} | ${labels.map(() => '---').join(' | ')} |`);
  for (const s of sc.sizes) {
    L.push(
      `| ${s.size} | ${s.n} | ${s.byRes.map((b) => (s.n ? `${Math.round(100 * b.found)}%` : '–')).join(' | ')} | ${s.byRes.map((b) => (s.n ? b.meanOks.toFixed(2) : '–')).join(' | ')} |`,
    );
  }
  L.push('');
  const sized = sc.sizes.filter((s) => s.n > 0);
  if (sized.length) {
    L.push(
      `${sized
        .map((s) => `${s.size} people (${s.n}): found ${s.byRes.map((b, i) => `${Math.round(100 * b.found)}% at ${labels[i]}`).join(', ')}`)
        .join('; ')}.`,
    );
    L.push('');
  }
  L.push('### Crowded images against single-person images');
  L.push('');
  L.push(
    `Crowded: ${sc.crowd.crowdedIds.length} images with three or more annotated people; single-person: ${sc.crowd.singleIds.length} images with exactly one. COCO AP on each subset.`,
  );
  L.push('');
  L.push('| resolution | AP crowded | AP single | AR crowded | AR single | TF.js AP crowded | TF.js AP single |');
  L.push('| --- | --- | --- | --- | --- | --- | --- |');
  sc.crowd.byRes.forEach((b, i) => {
    L.push(
      `| ${labels[i]} | ${f3(b.crowded.ap)} | ${f3(b.single.ap)} | ${f3(b.crowded.ar)} | ${f3(b.single.ar)} | ${b.crowdedTfjs ? f3(b.crowdedTfjs.ap) : '–'} | ${b.singleTfjs ? f3(b.singleTfjs.ap) : '–'} |`,
    );
  });
  L.push('');
  const ratios = sc.crowd.byRes
    .map((b) => (b.single.ap > 0 && b.crowded.ap >= 0 ? b.crowded.ap / b.single.ap : NaN))
    .filter(Number.isFinite);
  if (ratios.length) {
    L.push(
      `Crowded images reach ${Math.round(100 * Math.min(...ratios))}–${Math.round(100 * Math.max(...ratios))}% of the single-person AP. People there are smaller and overlap, ` +
        "and the greedy decoder suppresses a root only within nmsRadius of the same part of an accepted pose, so a neighbour's part a little further away starts a new, partial pose that costs precision.",
    );
    L.push('');
  }
  const ref = Math.max(
    0,
    runs.findIndex((r) => r.resolution.width === 257 && r.resolution.height === 257),
  );
  const top = runs.reduce(
    (b, r, i) => (r.resolution.width * r.resolution.height > runs[b]!.resolution.width * runs[b]!.resolution.height ? i : b),
    0,
  );
  L.push('### Visible against occluded keypoints');
  L.push('');
  L.push(
    `Per keypoint, the mean OKS term exp(-d² / 2s²k²) of the best detection for the ${sc.tracked} people found (OKS >= 0.5) at the highest resolution, ` +
      'split by COCO visibility: v = 2 (labelled and visible) against v = 1 (labelled but occluded). A person without any detection counts 0. ' +
      `Per keypoint at ${labels[ref]} and ${labels[top]} (few occluded keypoints are labelled per part, so single cells are noisy); means over all keypoints at every resolution below.`,
  );
  L.push('');
  const cell = (v: number, n: number) => `${Number.isFinite(v) ? v.toFixed(2) : '–'} (${n})`;
  L.push(`| keypoint | visible @${labels[ref]} (n) | occluded @${labels[ref]} (n) | visible @${labels[top]} | occluded @${labels[top]} |`);
  L.push('| --- | --- | --- | --- | --- |');
  sc.visibility[ref]!.forEach((v, k) => {
    const t = sc.visibility[top]![k]!;
    L.push(
      `| ${PART_NAMES[k]} | ${cell(v.visible, v.nVisible)} | ${cell(v.occluded, v.nOccluded)} | ${Number.isFinite(t.visible) ? t.visible.toFixed(2) : '–'} | ${Number.isFinite(t.occluded) ? t.occluded.toFixed(2) : '–'} |`,
    );
  });
  L.push('');
  L.push('| resolution | mean OKS term, visible | mean OKS term, occluded |');
  L.push('| --- | --- | --- |');
  sc.visibility.forEach((vs, i) => {
    const weighted = (sel: 'visible' | 'occluded', n: 'nVisible' | 'nOccluded') => {
      const tot = vs.reduce((a, v) => a + (v[n] ? v[sel] * v[n] : 0), 0);
      const cnt = vs.reduce((a, v) => a + v[n], 0);
      return cnt ? (tot / cnt).toFixed(3) : '–';
    };
    L.push(`| ${labels[i]} | ${weighted('visible', 'nVisible')} | ${weighted('occluded', 'nOccluded')} |`);
  });
  L.push('');
  const pooled = sc.visibility.map((vs) => {
    const avg = (sel: 'visible' | 'occluded', n: 'nVisible' | 'nOccluded') => {
      const cnt = vs.reduce((a, v) => a + v[n], 0);
      return cnt ? vs.reduce((a, v) => a + (v[n] ? v[sel] * v[n] : 0), 0) / cnt : NaN;
    };
    return { visible: avg('visible', 'nVisible'), occluded: avg('occluded', 'nOccluded') };
  });
  const worse = pooled.filter((p) => p.occluded < p.visible).length;
  L.push(
    `Occluded keypoints are placed worse than visible ones at ${worse} of ${pooled.length} resolutions ` +
      `(pooled mean OKS term ${pooled.map((p) => `${p.occluded.toFixed(2)} against ${p.visible.toFixed(2)}`).join(', ')}, from ${labels[0]} to ${labels[labels.length - 1]}): ` +
      'the network has less image evidence for them, and the decoder reaches most keypoints through displacements from a neighbour in the part tree, so one badly placed keypoint also moves the ones decoded from it.',
  );
  L.push('');
  L.push('### Keypoints lost first as the resolution drops');
  L.push('');
  const hiIdx = runs.reduce(
    (b, r, i) => (r.resolution.width * r.resolution.height > runs[b]!.resolution.width * runs[b]!.resolution.height ? i : b),
    0,
  );
  const order = runs
    .map((_r, i) => i)
    .sort((a, b) => runs[b]!.resolution.width * runs[b]!.resolution.height - runs[a]!.resolution.width * runs[a]!.resolution.height);
  const lowIdx = order[order.length - 1]!;
  const secondLow = order[order.length - 2] ?? lowIdx;
  const loss = (k: number, i: number) => 1 - sc.keypointOks[i]![k]! / sc.keypointOks[hiIdx]![k]!;
  const ranked = PART_NAMES.map((name, k) => ({ name, k })).sort((a, b) => loss(b.k, secondLow) - loss(a.k, secondLow));
  L.push(
    `Mean OKS term per keypoint (same ${sc.tracked} people, labelled keypoints only) at each resolution, and the share of it lost from ${labels[hiIdx]} down to ${labels[secondLow]} and ${labels[lowIdx]}; sorted by the loss at ${labels[secondLow]}.`,
  );
  L.push('');
  L.push(`| keypoint | ${labels.join(' | ')} | loss @${labels[secondLow]} | loss @${labels[lowIdx]} |`);
  L.push(`| --- | ${labels.map(() => '---').join(' | ')} | --- | --- |`);
  for (const { name, k } of ranked) {
    L.push(
      `| ${name} | ${runs.map((_, i) => sc.keypointOks[i]![k]!.toFixed(2)).join(' | ')} | ${Math.round(100 * loss(k, secondLow))}% | ${Math.round(100 * loss(k, lowIdx))}% |`,
    );
  }
  L.push('');
  const firstLost = ranked.slice(0, 4).map((r) => r.name);
  const lowRanked = PART_NAMES.map((name, k) => ({ name, k })).sort((a, b) => loss(b.k, lowIdx) - loss(a.k, lowIdx));
  L.push(
    `Lost first: **${firstLost.join(', ')}** (largest loss at ${labels[secondLow]}); at ${labels[lowIdx]} the largest losses are ${lowRanked
      .slice(0, 4)
      .map((r) => `${r.name} (${Math.round(100 * loss(r.k, lowIdx))}%)`)
      .join(', ')}.`,
  );
  L.push('');
  if (extra.sections) L.push(extra.sections);
  L.push('## Files');
  L.push('');
  L.push(
    `\`<mode>/results-<resolution>.json\` (ours, in each mode), \`tfjs/results-<resolution>.json\` (TF.js PoseNet) and \`scenarios/<scenario>/results-<resolution>.json\` in COCO keypoint results format (keypoints as x, y, score in source pixels; the score in the third place is ignored by OKS), \`summary.json\`, \`chart.svg\`, \`pareto.svg\`. ` +
      `Made by \`npm run eval -- ${process.argv.slice(2).join(' ')}\`.`,
  );
  L.push('');
  return L.join('\n');
}

// ---------------------------------------------------------------------------------------

/** An earlier eval's summary.json (then the report and chart beside it are eval's too). */
const isEvalSummary = jsonIsOurs((j) => typeof j === 'object' && j !== null && Array.isArray((j as { statsOrder?: unknown }).statsOrder));
/** COCO keypoint results (an array of detections), as eval writes them. */
const isCocoResults = jsonIsOurs(
  (j) => Array.isArray(j) && j.every((r) => typeof r === 'object' && r !== null && 'image_id' in r && Array.isArray(r.keypoints)),
);

interface EvalOutputs {
  /** Our results files by path under --out (`square/results-257.json`, `scenarios/blur/results-513.json`). */
  results: Map<string, OutputFile>;
  tfjsResults: Map<string, OutputFile>;
  summary: OutputFile;
  chart: OutputFile;
  pareto: OutputFile;
  report: OutputFile;
  reportHtml: OutputFile;
}

/**
 * Every file eval writes under --out, checked and reserved before the run (an hour of
 * work must not end on an unwritable folder). An existing file is replaced only when it
 * is an earlier eval's: COCO results, or summary / charts / reports beside an eval summary.
 */
function reserveOutputs(args: Args, tfjs: boolean): EvalOutputs {
  const dir = userPath(args.out);
  const earlierEval = (() => {
    try {
      return isEvalSummary(path.join(dir, 'summary.json'));
    } catch {
      return false;
    }
  })();
  const reserve = (name: string, isOurs: (file: string) => boolean): OutputFile =>
    OutputFile.reserve(path.join(dir, name), path.join(args.out, name), {
      what: '--out',
      isOurs,
      notOursReason: 'was not written by eval',
    });
  const ours = new Set<string>();
  for (const mode of args.modes) for (const r of args.resolutions) ours.add(resultsPath(mode, resLabel(r)));
  if (args.scenarios.length) {
    // The clean baseline of the scenarios: run (and written) unless the modes ran it.
    for (const r of args.scenarioResolutions) ours.add(resultsPath(args.scenarioMode, resLabel(r)));
    for (const name of args.scenarios)
      for (const r of args.scenarioResolutions) ours.add(resultsPath(args.scenarioMode, resLabel(r), name));
  }
  const labels = args.resolutions.map(resLabel);
  return {
    results: new Map([...ours].map((p) => [p, reserve(p, isCocoResults)])),
    tfjsResults: new Map(tfjs ? labels.map((l) => [l, reserve(path.join('tfjs', `results-${l}.json`), isCocoResults)]) : []),
    summary: reserve('summary.json', isEvalSummary),
    chart: reserve('chart.svg', () => earlierEval),
    pareto: reserve('pareto.svg', () => earlierEval),
    report: reserve('report.md', () => earlierEval),
    reportHtml: reserve('report.html', () => earlierEval),
  };
}

async function main(): Promise<void> {
  const args = await parse();
  const t0 = performance.now();
  const dataDir = userPath(args.data);
  const annFile = path.join(dataDir, 'person_keypoints.json');
  const annShown = path.join(args.data, 'person_keypoints.json');
  if (!fs.existsSync(annFile)) throw new ToolError(`${annShown} does not exist (--data must hold person_keypoints.json and images/)`);
  let gt: CocoDataset;
  try {
    gt = JSON.parse(readInputFile(annFile, annShown, 1024 * MiB).toString('utf8')) as CocoDataset;
  } catch (err) {
    if (err instanceof ToolError) throw err;
    throw new ToolError(`${annShown}: not JSON (${(err as Error).message})`);
  }
  if (!Array.isArray(gt?.images) || !Array.isArray(gt?.annotations)) {
    throw new ToolError(`${annShown}: not a COCO keypoints file (no images and annotations lists)`);
  }
  if (args.limit) {
    gt.images = gt.images.slice(0, args.limit);
    const keep = new Set(gt.images.map((i) => i.id));
    gt.annotations = gt.annotations.filter((a) => keep.has(a.image_id));
  }
  for (const img of gt.images) {
    const f = path.join(dataDir, 'images', img.file_name);
    if (!fs.existsSync(f)) throw new ToolError(`image ${path.join(args.data, 'images', img.file_name)} (id ${img.id}) does not exist`);
  }
  const manifest = readManifest(args.model);
  for (const r of [...args.resolutions, ...(args.scenarios.length ? args.scenarioResolutions : [])]) {
    if ((r.width - 1) % manifest.outputStride || (r.height - 1) % manifest.outputStride) {
      throw new ToolError(`invalid resolution ${resLabel(r)}: each side must be k*${manifest.outputStride}+1 for ${args.model}`);
    }
  }
  const tfjsModelUrl = `/weights/tfjs/${args.model}/model.json`;
  const tfjsModelFile = path.join(repoRoot, 'weights', 'tfjs', args.model, 'model.json');
  let backend = args.backend;
  if (backend && !fs.existsSync(tfjsModelFile)) {
    console.warn(`eval: ${tfjsModelFile} is missing: TF.js PoseNet is not run (npm run weights makes it for the default model)`);
    backend = null;
  }
  const options = { maxDetections: args.maxDetections, scoreThreshold: args.scoreThreshold, nmsRadius: args.nmsRadius };
  const outputs = reserveOutputs(args, !!backend);

  const runtime = await openRuntime({ ...args.runtime, tfjs: !!backend });
  const modeRuns: ModeRun[] = [];
  const tfjsRuns = new Map<string, { results: CocoResult[]; ms: number[]; evaluation: EvalResult }>();
  let scenarioRuns: ScenarioRun[] = [];
  let env = { adapter: '', backend: '' };
  try {
    const page = await runtime.openPage('tools/pages/eval.html', 'evalPage');
    const req: EvalOpenRequest = { weights: `/weights/${args.model}`, tfjsModelUrl, backend, resolution: args.resolutions[0]! };
    env = await page.call('open', req);
    console.log(`eval: ours on ${env.adapter} (${runtime.description}); TF.js ${env.backend || 'off'}; modes ${args.modes.join(', ')}`);
    const names = gt.images.map((i) => i.file_name);
    const idByName = new Map(gt.images.map((i) => [i.file_name, i.id]));
    for (const img of gt.images) {
      const b64 = readInputFile(
        path.join(dataDir, 'images', img.file_name),
        path.join(args.data, 'images', img.file_name),
        256 * MiB,
      ).toString('base64');
      await page.call('addImage', { name: img.file_name, b64 });
    }
    const ctx = {
      page,
      gt,
      names,
      idByName,
      options,
      write: (file: string, text: string) => {
        const out = outputs.results.get(file);
        if (!out) throw new Error(`eval: ${file} was not reserved under --out`);
        out.write(text);
      },
      repeat: args.repeat,
      log: (line: string) => console.log(`eval: ${line}`),
    };
    for (const resolution of args.resolutions) {
      modeRuns.push(...(await runModes(ctx, args.modes, resolution)));
      if (backend) {
        const t1 = performance.now();
        const r: EvalRunRequest = { impl: 'tfjs', resolution, names, options, warmup: 1 };
        const out = await page.call<EvalRunResult>('run', r);
        if (out.errors.length) throw new Error(`errors in TF.js at ${resLabel(resolution)}:\n${out.errors.join('\n')}`);
        if (page.errors.length) throw new Error(`page errors at TF.js ${resLabel(resolution)}:\n${page.errors.join('\n')}`);
        const results = toResults(out, idByName);
        const run = { results, ms: out.images.map((i) => i.ms), evaluation: evaluateKeypoints(gt, results) };
        tfjsRuns.set(resLabel(resolution), run);
        outputs.tfjsResults.get(resLabel(resolution))!.write(JSON.stringify(results));
        console.log(
          `eval: TF.js ${resLabel(resolution)}: AP ${f3(run.evaluation.ap)}, ${median(run.ms).toFixed(0)} ms/frame, ${results.length} poses, ${((performance.now() - t1) / 1000).toFixed(0)} s`,
        );
      }
    }
    if (args.scenarios.length) {
      scenarioRuns = await runScenarios(ctx, args.scenarios, args.scenarioMode, args.scenarioResolutions, args.seed, modeRuns);
    }
    const closeErrors = await page.call<string[]>('close');
    if (closeErrors.length) throw new Error(`GPU errors at close:\n${closeErrors.join('\n')}`);
  } finally {
    await runtime.close();
  }

  // The per-resolution tables follow one mode: square (comparable with TF.js) when it ran.
  const primaryMode = (['square', 'aspect', 'flip', 'aspect+flip'] as const).find((m) => args.modes.includes(m))!;
  const runs: ResolutionRun[] = args.resolutions.map((resolution) => {
    const ours = modeRuns.find((m) => m.mode === primaryMode && m.label === resLabel(resolution))!;
    const tfjs = tfjsRuns.get(resLabel(resolution)) ?? null;
    return {
      resolution,
      ours: ours.results,
      tfjs: tfjs?.results ?? null,
      oursMs: ours.ms,
      tfjsMs: tfjs?.ms ?? [],
      candidates: ours.candidates,
      evalOurs: ours.evaluation,
      evalTfjs: tfjs?.evaluation ?? null,
    };
  });
  for (const r of runs) {
    console.log(
      `eval: ${resLabel(r.resolution)} (${primaryMode}): max candidates ${Math.max(...r.candidates.map((c) => c[0]))}, ` +
        `AP ${f3(r.evalOurs.ap)} against TF.js ${r.evalTfjs ? f3(r.evalTfjs.ap) : '–'}`,
    );
  }
  const tfjsPoints: TfjsPoint[] = [...tfjsRuns].map(([label, t]) => ({ label, ap: t.evaluation.ap, ms: median(t.ms) }));
  const swiftShader = /swiftshader/i.test(env.adapter);
  const frontier = frontierSection(modeRuns, tfjsPoints, { adapter: env.adapter, goalResolution: args.goalResolution, swiftShader, gt });
  const sections = [frontier.markdown, scenarioSection(scenarioRuns, args.seed)].filter(Boolean).join('\n');

  const sc = scenarios(gt, runs);
  const svg = chartSvg(runs);
  const seconds = (performance.now() - t0) / 1000;
  outputs.chart.write(`${svg}\n`);
  outputs.pareto.write(`${frontier.svg}\n`);
  outputs.summary.write(
    JSON.stringify(
      {
        model: args.model,
        data: args.data,
        options,
        adapter: env.adapter,
        tfjsBackend: env.backend,
        seconds,
        modes: args.modes,
        msPerFrame:
          'median over the images of one end-to-end multi-pose call (upload, GPU passes, readback, CPU decode) on the adapter above',
        rows: summaryRows(modeRuns),
        tfjs: [...tfjsRuns].map(([label, t]) => ({
          mode: 'tfjs',
          resolution: label,
          AP: t.evaluation.ap,
          msPerFrame: median(t.ms),
          poses: t.results.length,
          stats: t.evaluation.stats,
        })),
        frontier: frontierSummary(modeRuns, tfjsPoints, args.goalResolution),
        degradations: scenarioRuns.length ? { seed: args.seed, ...scenarioSummary(scenarioRuns) } : null,
        statsOrder: ['AP', 'AP50', 'AP75', 'APm', 'APl', 'AR', 'AR50', 'AR75', 'ARm', 'ARl'],
        scenariosMode: primaryMode,
        scenarios: {
          sizes: sc.sizes,
          crowded: sc.crowd.byRes.map((b, i) => ({
            resolution: resLabel(runs[i]!.resolution),
            crowded: b.crowded.ap,
            single: b.single.ap,
            crowdedTfjs: b.crowdedTfjs?.ap,
            singleTfjs: b.singleTfjs?.ap,
          })),
          tracked: sc.tracked,
          keypointOks: sc.keypointOks,
          visibility: sc.visibility,
        },
      },
      null,
      1,
    ),
  );
  const markdown = report(args, gt, runs, sc, { ...env, seconds }, svg, { primaryMode, sections });
  outputs.report.write(markdown);
  outputs.reportHtml.write(reportHtml(markdown, `PoseNet eval: ${args.model} on ${args.data}`));
  console.log(`eval: wrote ${path.join(args.out, 'report.md')} (${seconds.toFixed(0)} s)`);
}

runTool('eval', main);
