/**
 * The speed–accuracy sections of the eval report (tools/eval.ts): the Pareto chart of AP
 * against ms for every mode and resolution with TF.js PoseNet's points, the frontier
 * table (for each ms budget the best configuration, its AP, and TF.js's best AP within the
 * same budget), the `{ longSide }` goal check, the flip test's gain and cost, and the
 * degraded-photograph scenarios. Pure: rows in, markdown and SVG out (tested in Node).
 */

export interface FrontierRow {
  /** `square`, `aspect`, `flip`, `aspect+flip`, or `tfjs`. */
  mode: string;
  /** Label: `257`, the long side for aspect modes, `513x385` for a fixed non-square input. */
  resolution: string;
  AP: number;
  msPerFrame: number;
}

export interface FrontierStep {
  /** Budget in ms per frame. */
  budgetMs: number;
  best: FrontierRow | null;
  tfjsBest: FrontierRow | null;
}

const MODE_COLORS: Record<string, string> = {
  square: '#1f5fa8',
  aspect: '#2e9e44',
  flip: '#c8621b',
  'aspect+flip': '#8e3fb0',
  tfjs: '#222222',
};

const f3 = (v: number) => (Number.isFinite(v) && v >= 0 ? v.toFixed(3) : '–');
const fms = (v: number) => (v >= 100 ? v.toFixed(0) : v.toFixed(1));
const label = (r: FrontierRow) => `${r.mode} ${r.resolution}`;
const signed = (v: number, digits: number) => `${v >= 0 ? '+' : '−'}${Math.abs(v).toFixed(digits)}`;

/** The best row (highest AP, then lowest ms) among those within a budget. */
function bestWithin(rows: FrontierRow[], budgetMs: number): FrontierRow | null {
  let best: FrontierRow | null = null;
  for (const r of rows) {
    if (!(r.msPerFrame <= budgetMs) || !Number.isFinite(r.AP)) continue;
    if (!best || r.AP > best.AP || (r.AP === best.AP && r.msPerFrame < best.msPerFrame)) best = r;
  }
  return best;
}

/** Rows no other row beats on both ms and AP (ms ascending): the Pareto frontier. */
export function paretoFront(rows: FrontierRow[]): FrontierRow[] {
  const sorted = [...rows]
    .filter((r) => Number.isFinite(r.AP) && Number.isFinite(r.msPerFrame))
    .sort((a, b) => a.msPerFrame - b.msPerFrame || b.AP - a.AP);
  const out: FrontierRow[] = [];
  for (const r of sorted) if (!out.length || r.AP > out[out.length - 1]!.AP) out.push(r);
  return out;
}

/**
 * For each budget (every measured ms, ours and TF.js's), the best of ours and TF.js's best
 * within it; only the budgets where either changes.
 */
export function frontierSteps(ours: FrontierRow[], tfjs: FrontierRow[]): FrontierStep[] {
  const budgets = [...new Set([...ours, ...tfjs].map((r) => r.msPerFrame).filter(Number.isFinite))].sort((a, b) => a - b);
  const steps: FrontierStep[] = [];
  for (const budgetMs of budgets) {
    const best = bestWithin(ours, budgetMs);
    const tfjsBest = bestWithin(tfjs, budgetMs);
    const prev = steps[steps.length - 1];
    if (prev && prev.best === best && prev.tfjsBest === tfjsBest) continue;
    steps.push({ budgetMs, best, tfjsBest });
  }
  return steps;
}

export function frontierTable(steps: FrontierStep[]): string {
  const L = [
    '| budget (ms/frame) | best configuration | its AP | its ms | TF.js best within budget | TF.js AP | AP gained |',
    '| --- | --- | --- | --- | --- | --- | --- |',
  ];
  for (const s of steps) {
    const gain = s.best && s.tfjsBest ? (s.best.AP - s.tfjsBest.AP).toFixed(3) : s.best ? 'TF.js has none' : '–';
    L.push(
      `| ${fms(s.budgetMs)} | ${s.best ? label(s.best) : 'none'} | ${s.best ? f3(s.best.AP) : '–'} | ${s.best ? fms(s.best.msPerFrame) : '–'} | ` +
        `${s.tfjsBest ? `TF.js ${s.tfjsBest.resolution}` : 'none'} | ${s.tfjsBest ? f3(s.tfjsBest.AP) : '–'} | ${gain} |`,
    );
  }
  return L.join('\n');
}

function niceStep(raw: number): number {
  const p = 10 ** Math.floor(Math.log10(Math.max(raw, 1e-9)));
  for (const s of [1, 2, 5, 10]) if (s * p >= raw) return s * p;
  return 10 * p;
}

/**
 * Scatter of AP against ms per frame (log scale), one colour per mode, each mode's points
 * joined in resolution order, TF.js's in black, our Pareto frontier as a dashed step line.
 */
export function paretoSvg(rows: FrontierRow[], title = 'AP against ms per frame: every mode and resolution, and TF.js PoseNet'): string {
  const W = 760;
  const H = 420;
  const m = { l: 60, r: 160, t: 40, b: 50 };
  const pts = rows.filter((r) => Number.isFinite(r.AP) && r.msPerFrame > 0);
  if (!pts.length) return `<svg xmlns="http://www.w3.org/2000/svg" width="${W}" height="60"><text x="10" y="30">no points</text></svg>`;
  const msMin = Math.min(...pts.map((p) => p.msPerFrame));
  const msMax = Math.max(...pts.map((p) => p.msPerFrame));
  const lo = Math.log10(msMin / 1.2);
  const hi = Math.log10(msMax * 1.2);
  const x = (ms: number) => m.l + ((Math.log10(ms) - lo) / Math.max(1e-9, hi - lo)) * (W - m.l - m.r);
  const apMax = Math.max(0.1, Math.ceil(Math.max(...pts.map((p) => p.AP)) * 10 + 0.5) / 10);
  const y = (ap: number) => H - m.b - (ap / apMax) * (H - m.t - m.b);
  const P: string[] = [];
  P.push(
    `<svg xmlns="http://www.w3.org/2000/svg" width="${W}" height="${H}" viewBox="0 0 ${W} ${H}" font-family="sans-serif" font-size="12">`,
  );
  P.push(`<rect width="${W}" height="${H}" fill="white"/>`);
  P.push(`<text x="${(m.l + W - m.r) / 2}" y="20" text-anchor="middle" font-size="14">${title}</text>`);
  const apStep = niceStep(apMax / 5);
  for (let v = 0; v <= apMax + 1e-9; v += apStep) {
    P.push(`<line x1="${m.l}" x2="${W - m.r}" y1="${y(v).toFixed(1)}" y2="${y(v).toFixed(1)}" stroke="#e3e3e3"/>`);
    P.push(`<text x="${m.l - 6}" y="${(y(v) + 4).toFixed(1)}" text-anchor="end">${v.toFixed(2)}</text>`);
  }
  for (let e = Math.floor(lo); e <= Math.ceil(hi); e++) {
    for (const k of [1, 2, 5]) {
      const v = k * 10 ** e;
      if (Math.log10(v) < lo || Math.log10(v) > hi) continue;
      P.push(`<line x1="${x(v).toFixed(1)}" x2="${x(v).toFixed(1)}" y1="${m.t}" y2="${H - m.b}" stroke="#eeeeee"/>`);
      P.push(`<text x="${x(v).toFixed(1)}" y="${H - m.b + 16}" text-anchor="middle">${v >= 1 ? v.toFixed(0) : v}</text>`);
    }
  }
  P.push(`<text x="${(m.l + W - m.r) / 2}" y="${H - 12}" text-anchor="middle">ms per frame (median, log scale)</text>`);
  P.push(`<text transform="translate(16 ${H / 2}) rotate(-90)" text-anchor="middle">AP (OKS 0.50:0.95)</text>`);
  const front = paretoFront(pts.filter((p) => p.mode !== 'tfjs'));
  if (front.length > 1) {
    const step: string[] = [];
    front.forEach((p, i) => {
      if (i) step.push(`${x(p.msPerFrame).toFixed(1)},${y(front[i - 1]!.AP).toFixed(1)}`);
      step.push(`${x(p.msPerFrame).toFixed(1)},${y(p.AP).toFixed(1)}`);
    });
    P.push(
      `<polyline fill="none" stroke="#999" stroke-width="1.5" stroke-dasharray="4 4" points="${step.join(' ')}"><title>our Pareto frontier</title></polyline>`,
    );
  }
  const modes = [...new Set(pts.map((p) => p.mode))];
  for (const mode of modes) {
    const color = MODE_COLORS[mode] ?? '#666';
    const mp = pts.filter((p) => p.mode === mode).sort((a, b) => a.msPerFrame - b.msPerFrame);
    P.push(
      `<polyline fill="none" stroke="${color}" stroke-width="1.5" opacity="0.6" points="${mp.map((p) => `${x(p.msPerFrame).toFixed(1)},${y(p.AP).toFixed(1)}`).join(' ')}"/>`,
    );
    for (const p of mp) {
      const cx = x(p.msPerFrame).toFixed(1);
      const cy = y(p.AP).toFixed(1);
      const shape =
        mode === 'tfjs'
          ? `<rect x="${(Number(cx) - 4).toFixed(1)}" y="${(Number(cy) - 4).toFixed(1)}" width="8" height="8" fill="${color}">`
          : `<circle cx="${cx}" cy="${cy}" r="4" fill="${color}">`;
      P.push(`${shape}<title>${label(p)}: AP ${f3(p.AP)}, ${fms(p.msPerFrame)} ms</title>${mode === 'tfjs' ? '</rect>' : '</circle>'}`);
      P.push(
        `<text x="${(Number(cx) + 5).toFixed(1)}" y="${(Number(cy) - 6).toFixed(1)}" font-size="10" fill="${color}">${p.resolution}</text>`,
      );
    }
  }
  modes.forEach((mode, i) => {
    const ly = m.t + 10 + i * 20;
    const lx = W - m.r + 20;
    const color = MODE_COLORS[mode] ?? '#666';
    P.push(
      mode === 'tfjs'
        ? `<rect x="${lx - 4}" y="${ly - 4}" width="8" height="8" fill="${color}"/>`
        : `<circle cx="${lx}" cy="${ly}" r="4" fill="${color}"/>`,
    );
    P.push(`<text x="${lx + 12}" y="${ly + 4}">${mode === 'tfjs' ? 'TF.js PoseNet' : `ours, ${mode}`}</text>`);
  });
  const ly = m.t + 10 + modes.length * 20;
  P.push(`<line x1="${W - m.r + 14}" x2="${W - m.r + 28}" y1="${ly}" y2="${ly}" stroke="#999" stroke-dasharray="4 4"/>`);
  P.push(`<text x="${W - m.r + 32}" y="${ly + 4}">our frontier</text>`);
  P.push('</svg>');
  return P.join('\n');
}

export interface AspectGoal {
  resolution: string;
  squareAP: number;
  aspectAP: number;
  squareMs: number;
  aspectMs: number;
  /** aspect AP - square AP */
  apDelta: number;
  /** aspect ms / square ms */
  msRatio: number;
  met: boolean;
}

/** The issue's goal at one long side: aspect AP within 0.005 of square's at no more than 0.8 of its ms. */
export function aspectGoal(rows: FrontierRow[], resolution: string, apTolerance = 0.005, msRatioBound = 0.8): AspectGoal | null {
  const sq = rows.find((r) => r.mode === 'square' && r.resolution === resolution);
  const as = rows.find((r) => r.mode === 'aspect' && r.resolution === resolution);
  if (!sq || !as) return null;
  const apDelta = as.AP - sq.AP;
  const msRatio = as.msPerFrame / sq.msPerFrame;
  return {
    resolution,
    squareAP: sq.AP,
    aspectAP: as.AP,
    squareMs: sq.msPerFrame,
    aspectMs: as.msPerFrame,
    apDelta,
    msRatio,
    met: apDelta >= -apTolerance && msRatio <= msRatioBound,
  };
}

export interface FlipGain {
  base: string;
  resolution: string;
  baseAP: number;
  flipAP: number;
  apGain: number;
  baseMs: number;
  flipMs: number;
  msCost: number;
  msRatio: number;
}

/** The flip test's AP gain and ms cost at each resolution, on square and on aspect inputs. */
export function flipGains(rows: FrontierRow[]): FlipGain[] {
  const out: FlipGain[] = [];
  for (const [base, flip] of [
    ['square', 'flip'],
    ['aspect', 'aspect+flip'],
  ] as const) {
    for (const b of rows.filter((r) => r.mode === base)) {
      const f = rows.find((r) => r.mode === flip && r.resolution === b.resolution);
      if (!f) continue;
      out.push({
        base,
        resolution: b.resolution,
        baseAP: b.AP,
        flipAP: f.AP,
        apGain: f.AP - b.AP,
        baseMs: b.msPerFrame,
        flipMs: f.msPerFrame,
        msCost: f.msPerFrame - b.msPerFrame,
        msRatio: f.msPerFrame / b.msPerFrame,
      });
    }
  }
  return out;
}

export function flipTable(gains: FlipGain[]): string {
  const L = [
    '| input | resolution | AP | AP with flip test | gain | ms | ms with flip test | cost (ms) | cost (x) |',
    '| --- | --- | --- | --- | --- | --- | --- | --- | --- |',
  ];
  for (const g of gains) {
    L.push(
      `| ${g.base} | ${g.resolution} | ${f3(g.baseAP)} | ${f3(g.flipAP)} | ${signed(g.apGain, 3)} | ${fms(g.baseMs)} | ${fms(g.flipMs)} | ${signed(g.msCost, g.msCost >= 100 ? 0 : 1)} | ${g.msRatio.toFixed(2)} |`,
    );
  }
  return L.join('\n');
}

export interface ScenarioRow {
  scenario: string;
  resolution: string;
  AP: number;
  /** The clean photographs' AP at the same mode and resolution. */
  cleanAP: number;
}

/** Below this AP a scenario is lost at every resolution run: no resolution is "needed". */
export const LOST_AP = 0.02;

/**
 * The resolution a scenario needs: the smallest whose AP is within `tolerance` of the
 * scenario's best AP over the resolutions run (the point past which a larger input buys
 * little), with that best; `none` when even the best is below LOST_AP.
 */
export function scenarioNeeds(
  rows: ScenarioRow[],
  order: string[],
  tolerance = 0.01,
): Map<string, { resolution: string; bestAP: number; bestAt: string }> {
  const out = new Map<string, { resolution: string; bestAP: number; bestAt: string }>();
  for (const scenario of [...new Set(rows.map((r) => r.scenario))]) {
    const rs = order.map((res) => rows.find((r) => r.scenario === scenario && r.resolution === res)).filter((r): r is ScenarioRow => !!r);
    if (!rs.length) continue;
    const best = rs.reduce((a, b) => (b.AP > a.AP ? b : a));
    const need = rs.find((r) => r.AP >= best.AP - tolerance)!;
    out.set(scenario, { resolution: best.AP < LOST_AP ? 'none' : need.resolution, bestAP: best.AP, bestAt: best.resolution });
  }
  return out;
}

/** AP per resolution for the clean set and each scenario, with what each scenario needs. */
export function scenarioTable(rows: ScenarioRow[], order: string[], descriptions: Record<string, string>, tolerance = 0.01): string {
  const scenarios = [...new Set(rows.map((r) => r.scenario))];
  const needs = scenarioNeeds([...rows, ...cleanRows(rows)], order, tolerance);
  const L = [
    `| scenario | ${order.map((r) => `AP @${r}`).join(' | ')} | needs | best AP (at) |`,
    `| --- | ${order.map(() => '---').join(' | ')} | --- | --- |`,
  ];
  const line = (name: string, apOf: (res: string) => number | undefined) => {
    const n = needs.get(name);
    L.push(
      `| ${name} | ${order.map((res) => (apOf(res) === undefined ? '–' : f3(apOf(res)!))).join(' | ')} | ${n ? n.resolution : '–'} | ${n ? `${f3(n.bestAP)} (${n.bestAt})` : '–'} |`,
    );
  };
  line('clean', (res) => rows.find((r) => r.resolution === res)?.cleanAP);
  for (const s of scenarios) line(s, (res) => rows.find((r) => r.scenario === s && r.resolution === res)?.AP);
  L.push('');
  for (const s of scenarios) L.push(`- \`${s}\`: ${descriptions[s] ?? s}`);
  return L.join('\n');
}

function cleanRows(rows: ScenarioRow[]): ScenarioRow[] {
  const seen = new Set<string>();
  const out: ScenarioRow[] = [];
  for (const r of rows) {
    if (seen.has(r.resolution)) continue;
    seen.add(r.resolution);
    out.push({ scenario: 'clean', resolution: r.resolution, AP: r.cleanAP, cleanAP: r.cleanAP });
  }
  return out;
}
