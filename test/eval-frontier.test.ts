/**
 * The eval's frontier and scenario helpers in Node: the degradations on small pictures
 * (deterministic, and the annotations move exactly with the pixels), the mode parsing,
 * and the Pareto front, frontier table, goal check, flip gains and "needs" on hand-made
 * rows whose answers are worked out here.
 */
import { describe, expect, it } from 'vitest';

import type { CocoDataset } from '../tools/lib/coco-eval.ts';
import {
  degradePixels,
  imageSeed,
  lowLight,
  motionBlur,
  parseScenarios,
  rng,
  rotate90,
  rotate180,
  scenarioGeometry,
  shrinkWithBorder,
  SMALL_FACTOR,
  transformDataset,
  type Rgba,
} from '../tools/lib/degrade.ts';
import { personDiff, type ModeRun } from '../tools/lib/eval-frontier.ts';
import { modeSetting, parseModes } from '../tools/lib/eval-modes.ts';
import { reportHtml } from '../tools/lib/report-html.ts';
import {
  aspectGoal,
  flipGains,
  frontierSteps,
  frontierTable,
  paretoFront,
  paretoSvg,
  scenarioNeeds,
  type FrontierRow,
} from '../tools/lib/report-frontier.ts';

/** A w x h picture with a seeded random texture and one white marker pixel at (mx, my). */
function picture(w: number, h: number, mx: number, my: number, seed = 1): Rgba {
  const r = rng(seed);
  const data = new Uint8ClampedArray(w * h * 4);
  for (let i = 0; i < data.length; i += 4) {
    data[i] = Math.floor(r() * 100);
    data[i + 1] = Math.floor(r() * 100);
    data[i + 2] = Math.floor(r() * 100);
    data[i + 3] = 255;
  }
  const o = (my * w + mx) * 4;
  data[o] = data[o + 1] = data[o + 2] = 255;
  return { data, width: w, height: h };
}

/** Where the brightest pixel is (the marker), as (x, y). */
function brightest(img: Rgba): [number, number] {
  let best = -1;
  let at = 0;
  for (let p = 0; p < img.width * img.height; p++) {
    const v = img.data[p * 4]! + img.data[p * 4 + 1]! + img.data[p * 4 + 2]!;
    if (v > best) {
      best = v;
      at = p;
    }
  }
  return [at % img.width, Math.floor(at / img.width)];
}

function dataset(w: number, h: number, points: [number, number][]): CocoDataset {
  const keypoints = new Array(51).fill(0);
  points.forEach(([x, y], k) => {
    keypoints[3 * k] = x;
    keypoints[3 * k + 1] = y;
    keypoints[3 * k + 2] = 2;
  });
  return {
    images: [{ id: 1, file_name: 'a.jpg', width: w, height: h }],
    annotations: [
      { id: 7, image_id: 1, category_id: 1, keypoints, num_keypoints: points.length, area: 1200, bbox: [10, 5, 40, 30], iscrowd: 0 },
    ],
  };
}

describe('degradations', () => {
  it('rotate pixels and annotations alike (90° clockwise, 180°)', () => {
    const img = picture(7, 5, 2, 1);
    const r90 = rotate90(img);
    expect([r90.width, r90.height]).toEqual([5, 7]);
    expect(brightest(r90)).toEqual(scenarioGeometry('rot90', 7, 5)!.point(2, 1));
    expect(brightest(r90)).toEqual([3, 2]);
    expect(rotate90(rotate90(rotate90(r90))).data).toEqual(img.data);
    expect(rotate90(r90).data).toEqual(rotate180(img).data);
    expect(brightest(rotate180(img))).toEqual([4, 3]);
    const gt = transformDataset(dataset(7, 5, [[2, 1]]), 'rot90');
    expect(gt.images[0]).toMatchObject({ width: 5, height: 7 });
    expect(gt.annotations[0]!.keypoints.slice(0, 3)).toEqual([3, 2, 2]);
    // Unlabelled keypoints stay (0, 0, 0); the box turns with the picture; the area stays.
    expect(gt.annotations[0]!.keypoints.slice(3, 6)).toEqual([0, 0, 0]);
    expect(gt.annotations[0]!.bbox).toEqual([5 - 35, 10, 30, 40]);
    expect(gt.annotations[0]!.area).toBe(1200);
  });

  it('shrink people: the block mean lands where the annotation moves, area / factor²', () => {
    const f = SMALL_FACTOR;
    // A white f x f block at block (3, 2): after shrinking it is one white pixel.
    const w = 16 * f;
    const h = 12 * f;
    const img = picture(w, h, 0, 0);
    img.data[0] = img.data[1] = img.data[2] = 0;
    for (let y = 2 * f; y < 3 * f; y++) for (let x = 3 * f; x < 4 * f; x++) img.data.set([255, 255, 255, 255], (y * w + x) * 4);
    const small = shrinkWithBorder(img, f);
    expect([small.width, small.height]).toEqual([w, h]);
    // The block's centre in source pixels is (3f + (f-1)/2, 2f + (f-1)/2).
    const cx = 3 * f + (f - 1) / 2;
    const cy = 2 * f + (f - 1) / 2;
    expect(brightest(small)).toEqual(scenarioGeometry('small', w, h)!.point(cx, cy));
    // The border is grey.
    expect([...small.data.slice(0, 4)]).toEqual([128, 128, 128, 255]);
    const gt = transformDataset(dataset(w, h, [[cx, cy]]), 'small');
    expect(gt.annotations[0]!.keypoints.slice(0, 2)).toEqual(brightest(small));
    expect(gt.annotations[0]!.area).toBe(1200 / (f * f));
    expect(gt.images[0]).toMatchObject({ width: w, height: h });
  });

  it('motion blur keeps flat areas and smears a dot along its angle; low light darkens with seeded noise', () => {
    const flat: Rgba = { data: new Uint8ClampedArray(20 * 10 * 4).fill(90), width: 20, height: 10 };
    expect(motionBlur(flat, 7, 0.3).data).toEqual(flat.data);
    const dot: Rgba = { data: new Uint8ClampedArray(21 * 9 * 4), width: 21, height: 9 };
    dot.data.set([210, 210, 210, 255], (4 * 21 + 10) * 4);
    const horizontal = motionBlur(dot, 7, 0);
    const row = Array.from({ length: 21 }, (_, x) => horizontal.data[(4 * 21 + x) * 4]!);
    // Each of the 7 pixels centred on the dot takes a seventh of it; nothing above or below.
    expect(row).toEqual(Array.from({ length: 21 }, (_, x) => (Math.abs(x - 10) <= 3 ? 30 : 0)));
    expect(horizontal.data[(3 * 21 + 10) * 4]).toBe(0);
    const img = picture(30, 20, 5, 5);
    const a = lowLight(img, rng(imageSeed(1, 'a.jpg')));
    const b = lowLight(img, rng(imageSeed(1, 'a.jpg')));
    const c = lowLight(img, rng(imageSeed(2, 'a.jpg')));
    expect(a.data).toEqual(b.data);
    expect(a.data).not.toEqual(c.data);
    const mean = (x: Rgba) => x.data.reduce((s, v, i) => (i % 4 === 3 ? s : s + v), 0) / (x.width * x.height * 3);
    expect(mean(a)).toBeLessThan(mean(img) * 0.5);
    expect(degradePixels('blur', img, 5).data).toEqual(degradePixels('blur', img, 5).data);
    expect(imageSeed(1, 'a.jpg')).not.toBe(imageSeed(1, 'b.jpg'));
  });

  it('parses scenario lists and names an unknown one', () => {
    expect(parseScenarios('all')).toHaveLength(6);
    expect(parseScenarios('none')).toEqual([]);
    expect(parseScenarios('rot90,blur,rot90')).toEqual(['rot90', 'blur']);
    expect(() => parseScenarios('fog')).toThrow(/unknown scenario "fog"/);
  });
});

describe('square against aspect, person by person', () => {
  it('averages each person best OKS and counts who moved, and who touches the border', () => {
    // Two people: one in the middle of a 100x80 image, one against its top edge.
    const person = (id: number, x: number, y: number) => ({
      id,
      image_id: 1,
      category_id: 1,
      keypoints: Array.from({ length: 17 }, (_, k) => [x + (k % 3), y + k, 2]).flat(),
      num_keypoints: 17,
      area: 400,
      bbox: [x, y, 3, 17] as [number, number, number, number],
      iscrowd: 0 as const,
    });
    const gt: CocoDataset = {
      images: [{ id: 1, file_name: 'a.jpg', width: 100, height: 80 }],
      annotations: [person(1, 40, 30), person(2, 10, 0)],
    };
    const exact = (a: (typeof gt.annotations)[number], shift = 0) => ({
      image_id: 1,
      category_id: 1,
      keypoints: a.keypoints.map((v, i) => (i % 3 === 0 ? v + shift : v)),
      score: 0.9,
    });
    const run = (results: ReturnType<typeof exact>[]) => ({ results }) as unknown as ModeRun;
    // Square finds both exactly; aspect finds the middle one exactly and the edge one 6 px off.
    const d = personDiff(
      gt,
      run([exact(gt.annotations[0]!), exact(gt.annotations[1]!)]),
      run([exact(gt.annotations[0]!), exact(gt.annotations[1]!, 6)]),
    );
    expect(d.people).toBe(2);
    expect(d.squareOks).toBeCloseTo(1, 12);
    expect(d.aspectOks).toBeLessThan(0.95);
    expect(d.moved).toBe(1);
    expect(d.atEdge).toBe(1);
  });
});

describe('eval modes', () => {
  it('parses modes, takes long sides for aspect modes and refuses WxH there', () => {
    expect(parseModes('square,aspect+flip')).toEqual(['square', 'aspect+flip']);
    expect(() => parseModes('square,wide')).toThrow(/unknown mode "wide" in --modes/);
    expect(modeSetting('aspect', { width: 513, height: 513 })).toEqual({ resolution: { longSide: 513 }, flipTest: false });
    expect(modeSetting('flip', { width: 513, height: 385 })).toEqual({ resolution: { width: 513, height: 385 }, flipTest: true });
    expect(() => modeSetting('aspect+flip', { width: 513, height: 385 })).toThrow(/takes one number per resolution/);
  });
});

const row = (mode: string, resolution: string, AP: number, msPerFrame: number): FrontierRow => ({ mode, resolution, AP, msPerFrame });

describe('frontier report', () => {
  const ours = [
    row('square', '257', 0.3, 100),
    row('aspect', '257', 0.3, 75),
    row('square', '513', 0.5, 400),
    row('aspect', '513', 0.498, 300),
    row('flip', '257', 0.33, 190),
    row('aspect+flip', '513', 0.53, 590),
  ];
  const tfjs = [row('tfjs', '257', 0.29, 150), row('tfjs', '513', 0.49, 700)];

  it('keeps the undominated points, cheapest first', () => {
    expect(paretoFront(ours).map((r) => `${r.mode} ${r.resolution}`)).toEqual([
      'aspect 257',
      'flip 257',
      'aspect 513',
      'square 513',
      'aspect+flip 513',
    ]);
  });

  it('gives, per budget, the best of ours and the best of TF.js', () => {
    const steps = frontierSteps(ours, tfjs);
    const brief = steps.map((s) => [s.budgetMs, s.best && `${s.best.mode} ${s.best.resolution}`, s.tfjsBest?.resolution ?? null]);
    expect(brief).toEqual([
      [75, 'aspect 257', null],
      [150, 'aspect 257', '257'],
      [190, 'flip 257', '257'],
      [300, 'aspect 513', '257'],
      [400, 'square 513', '257'],
      [590, 'aspect+flip 513', '257'],
      [700, 'aspect+flip 513', '513'],
    ]);
    const table = frontierTable(steps);
    expect(table).toContain('| 300 | aspect 513 | 0.498 | 300 | TF.js 257 | 0.290 | 0.208 |');
    expect(table).toContain('| 75.0 | aspect 257 | 0.300 | 75.0 | none | – | TF.js has none |');
    const svg = paretoSvg([...ours, ...tfjs]);
    expect(svg.match(/<circle /g)?.length).toBe(ours.length + 4);
    expect(svg.match(/<rect x=/g)?.length).toBe(tfjs.length + 1);
    // The HTML report: tables become tables, the chart passes through as SVG.
    const html = reportHtml(`# Report\n\n${svg}\n\n${table}\n`, 'a <b> report');
    expect(html).toContain('<title>a &lt;b&gt; report</title>');
    expect(html.match(/<tr>/g)?.length).toBe(steps.length + 1);
    expect(html).toContain('<svg xmlns="http://www.w3.org/2000/svg"');
    expect(html.match(/<circle /g)?.length).toBe(ours.length + 4);
  });

  it('checks the aspect goal and measures the flip test', () => {
    const goal = aspectGoal(ours, '513')!;
    expect(goal.apDelta).toBeCloseTo(-0.002, 12);
    expect(goal.msRatio).toBeCloseTo(0.75, 12);
    expect(goal.met).toBe(true);
    expect(aspectGoal([row('square', '513', 0.5, 400), row('aspect', '513', 0.49, 300)], '513')!.met).toBe(false);
    expect(aspectGoal([row('square', '513', 0.5, 400), row('aspect', '513', 0.5, 360)], '513')!.met).toBe(false);
    expect(aspectGoal(ours, '641')).toBeNull();
    const gains = flipGains(ours);
    expect(gains.map((g) => [g.base, g.resolution, Number(g.apGain.toFixed(3)), g.msCost, Number(g.msRatio.toFixed(3))])).toEqual([
      ['square', '257', 0.03, 90, 1.9],
      ['aspect', '513', 0.032, 290, 1.967],
    ]);
  });

  it('says which resolution a scenario needs: the smallest within 0.01 of its best, none when all are lost', () => {
    const rows = [
      { scenario: 'small', resolution: '257', AP: 0.05, cleanAP: 0.3 },
      { scenario: 'small', resolution: '513', AP: 0.2, cleanAP: 0.5 },
      { scenario: 'small', resolution: '801', AP: 0.25, cleanAP: 0.52 },
      { scenario: 'jpeg', resolution: '257', AP: 0.28, cleanAP: 0.3 },
      { scenario: 'jpeg', resolution: '513', AP: 0.4, cleanAP: 0.5 },
      { scenario: 'jpeg', resolution: '801', AP: 0.405, cleanAP: 0.52 },
    ];
    rows.push(
      { scenario: 'rot180', resolution: '257', AP: 0, cleanAP: 0.3 },
      { scenario: 'rot180', resolution: '513', AP: 0.01, cleanAP: 0.5 },
    );
    const needs = scenarioNeeds(rows, ['257', '513', '801']);
    expect(needs.get('rot180')).toEqual({ resolution: 'none', bestAP: 0.01, bestAt: '513' });
    expect(needs.get('small')).toEqual({ resolution: '801', bestAP: 0.25, bestAt: '801' });
    expect(needs.get('jpeg')).toEqual({ resolution: '513', bestAP: 0.405, bestAt: '801' });
  });
});
