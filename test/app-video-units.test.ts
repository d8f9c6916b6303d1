/**
 * The demo page's pure parts added with video support, in Node: URL parameters read with a
 * note for each value replaced, the custom size fields, the trace's frame count, warm-up
 * frames left out of the means, the sweep chart's labels, the 20 person colours, the
 * media bar's frame steps, the smoothing strength and the pose record format.
 */
import { describe, expect, it } from 'vitest';
import { type FrameRecord, SMOOTHING_STRENGTH_DEFAULT, smoothingOptions } from '../src/app/app.ts';
import { parseCustomSize } from '../src/app/controls.ts';
import { formatMediaTime, stepTarget } from '../src/app/media-bar.ts';
import { frameMeans } from '../src/app/metrics.ts';
import { PERSON_COLOURS, personColour } from '../src/app/palette.ts';
import { parseTraceFrames } from '../src/app/profiler-panel.ts';
import { layoutChart, overlaps, type SweepRow } from '../src/app/sweep.ts';
import { checkModel, readUrlSettings } from '../src/app/url-params.ts';
import { DEFAULT_MODEL, type ModelEntry } from '../src/app/models.ts';
import { toJsonLines, toPoseRecord } from '../src/pose/record.ts';
import { SMOOTHING_DEFAULTS } from '../src/pose/smoother.ts';
import { person } from './support/synthetic-poses.ts';

const url = (q: string) => readUrlSettings(new URLSearchParams(q));

describe('URL parameters', () => {
  it('reads good values silently', () => {
    const { settings, notes } = url('res=321x241&minScore=0.4&mode=multi&flip=1&smooth=0&smoothStrength=0.8&model=m');
    expect(notes).toEqual([]);
    expect(settings).toMatchObject({
      resolution: { width: 321, height: 241 },
      minScore: 0.4,
      mode: 'multi',
      flip: true,
      smoothing: false,
      smoothingStrength: 0.8,
      model: 'm',
    });
    expect(url('').settings.resolution).toEqual({ width: 257, height: 257 });
  });

  it('says what it changed and why, for each bad value', () => {
    const cases: [string, RegExp, Partial<ReturnType<typeof url>['settings']>][] = [
      ['res=abc', /res=abc is not a size.*using 257 × 257/, { resolution: { width: 257, height: 257 } }],
      [
        'res=5000',
        /res=5000: 5000 cannot run \(the largest input is 1025\): using 1025 × 1025/,
        { resolution: { width: 1025, height: 1025 } },
      ],
      [
        'res=300x200',
        /res=300x200: 300 × 200 cannot run \(each side must be k × 16 \+ 1\): using 305 × 193/,
        { resolution: { width: 305, height: 193 } },
      ],
      ['res=64', /the smallest input is 129.*using 129 × 129/, { resolution: { width: 129, height: 129 } }],
      ['minScore=5', /minScore=5 is outside 0..1: using 1/, { minScore: 1 }],
      ['minScore=x', /minScore=x is not a number: using 0.3/, { minScore: 0.3 }],
      ['mode=both', /mode=both is not one of single, multi: using single/, { mode: 'single' }],
      ['flip=yes', /flip=yes is not 0 or 1: using 0/, { flip: false }],
      ['maxDetections=0', /maxDetections=0 is outside 1..20/, { maxDetections: 1 }],
    ];
    for (const [q, note, expected] of cases) {
      const { settings, notes } = url(q);
      expect(notes.join(' '), q).toMatch(note);
      expect(settings, q).toMatchObject(expected);
    }
    // minScore=5 draws nothing: said too.
    expect(url('minScore=5').notes.join(' ')).toMatch(/hides every keypoint/);
  });

  it('checks the model against the list', () => {
    const models = [{ name: 'other' }, { name: DEFAULT_MODEL }] as ModelEntry[];
    const notes: string[] = [];
    expect(checkModel('other', models, notes)).toBe('other');
    expect(notes).toEqual([]);
    // An unknown model falls back to the default one (the f16 weights), not the first listed.
    expect(DEFAULT_MODEL).toBe('posenet-mobilenet-v1-075-s16-f16');
    expect(checkModel('nope', models, notes)).toBe(DEFAULT_MODEL);
    expect(notes[0]).toBe(`model=nope: no such model (have: other, ${DEFAULT_MODEL}): using ${DEFAULT_MODEL}.`);
  });
});

describe('controls', () => {
  it('reads the custom size fields, naming an empty or non-numeric field instead of reading 0', () => {
    expect(parseCustomSize('321', '241')).toEqual({ width: 321, height: 241 });
    expect(parseCustomSize('321', '')).toEqual({ width: 321, height: 321 });
    expect(parseCustomSize('', '')).toEqual({ error: 'Enter a width (and a height, or leave the height empty for a square).' });
    expect(parseCustomSize(' ', '241')).toHaveProperty('error');
    expect(parseCustomSize('abc', '')).toEqual({ error: 'The width "abc" is not a number.' });
    expect(parseCustomSize('321', 'x')).toEqual({ error: 'The height "x" is not a number.' });
  });

  it('refuses 0 (and other bad counts) for the trace instead of turning it into 30', () => {
    expect(parseTraceFrames('5')).toBe(5);
    expect(parseTraceFrames('60')).toBe(60);
    for (const bad of ['0', '', '61', '2.5', 'x', '-3']) expect(parseTraceFrames(bad), bad).toHaveProperty('error');
    expect((parseTraceFrames('0') as { error: string }).error).toBe('frames to export: "0" is not a whole number from 1 to 60');
  });

  it('maps the smoothing strength to the cutoff: 0.5 is the library default, stronger is a lower cutoff', () => {
    expect(smoothingOptions(SMOOTHING_STRENGTH_DEFAULT).minCutoff).toBeCloseTo(SMOOTHING_DEFAULTS.minCutoff, 12);
    expect(smoothingOptions(0).minCutoff).toBeCloseTo(4 * SMOOTHING_DEFAULTS.minCutoff, 12);
    expect(smoothingOptions(1).minCutoff).toBeCloseTo(SMOOTHING_DEFAULTS.minCutoff / 4, 12);
    expect(smoothingOptions(0.75).minCutoff!).toBeLessThan(smoothingOptions(0.25).minCutoff!);
  });
});

describe('profiler means', () => {
  const rec = (frame: number, latencyMs: number, warmup: boolean, t: number): FrameRecord =>
    ({ frame, latencyMs, endToEndMs: latencyMs + 1, encodeMs: 0.5, gpuMs: latencyMs / 2, warmup, t }) as FrameRecord;

  it('leaves the warm-up frame out of latency, end-to-end, GPU ms and fps', () => {
    const m = frameMeans([rec(1, 900, true, 1000), rec(2, 100, false, 1100), rec(3, 120, false, 1200), rec(4, 110, false, 1300)]);
    expect(m.samples).toBe(3);
    expect(m.latencyMs).toBeCloseTo(110, 12);
    expect(m.endToEndMs).toBeCloseTo(111, 12);
    expect(m.gpu.mean).toBeCloseTo(55, 12);
    expect(m.fps).toBeCloseTo(10, 12);
    expect(frameMeans([rec(1, 900, true, 0)]).latencyMs).toBeNaN();
  });
});

describe('the sweep chart', () => {
  const measure = (t: string) => 6.5 * t.length;
  const row = (width: number, ms: number): SweepRow => ({
    width,
    height: width,
    frames: 5,
    gpuMs: ms,
    gpuSdMs: 0.1,
    latencyMs: ms + 2,
    fps: 1000 / (ms + 2),
    gpuBytes: 0,
  });

  it('places no label over another, whatever the shape of the data', () => {
    const sets: SweepRow[][] = [
      // As SwiftShader measures: ms grows with the area, fps falls (the lines cross mid-chart).
      [161, 257, 321, 481, 641, 801].map((r) => row(r, 0.004 * r * r)),
      // A fast GPU: nearly flat.
      [161, 257, 321, 481, 641, 801].map((r) => row(r, 2 + r / 400)),
      // Two and one resolutions.
      [row(161, 5), row(257, 12)],
      [row(257, 50)],
      // The case: fps labels landed on the bar values where the bars meet the line.
      [161, 257, 321, 481].map((r, i) => ({ ...row(r, [20, 45, 70, 160][i]!), fps: [40, 20, 13, 6][i]! })),
    ];
    for (const rows of sets) {
      const l = layoutChart(rows, 560, 200, measure);
      const labels = [...l.axisLabels, ...l.barLabels, ...l.fpsLabels];
      for (let i = 0; i < labels.length; i++) {
        const a = labels[i]!;
        expect(a.x >= 0 && a.y >= 0 && a.x + a.w <= 560 && a.y + a.h <= 200, `${a.text} off the canvas`).toBe(true);
        for (let j = i + 1; j < labels.length; j++) expect(overlaps(a, labels[j]!), `${a.text} over ${labels[j]!.text}`).toBe(false);
      }
    }
  });
});

/** CIE76 ΔE between two sRGB colours (#rrggbb), D65. */
function deltaE(p: string, q: string): number {
  const lab = (hex: string) => {
    const [r, g, b] = [1, 3, 5].map((i) => {
      const c = parseInt(hex.slice(i, i + 2), 16) / 255;
      return c <= 0.04045 ? c / 12.92 : ((c + 0.055) / 1.055) ** 2.4;
    }) as [number, number, number];
    const f = (t: number) => (t > 0.008856 ? Math.cbrt(t) : 7.787 * t + 16 / 116);
    const x = f((0.4124 * r + 0.3576 * g + 0.1805 * b) / 0.95047);
    const y = f(0.2126 * r + 0.7152 * g + 0.0722 * b);
    const z = f((0.0193 * r + 0.1192 * g + 0.9505 * b) / 1.08883);
    return [116 * y - 16, 500 * (x - y), 200 * (y - z)];
  };
  const a = lab(p);
  const b = lab(q);
  return Math.hypot(a[0]! - b[0]!, a[1]! - b[1]!, a[2]! - b[2]!);
}

describe('person colours', () => {
  it('has 20 colours, each pair at least ΔE 15 apart, none darker than L* 35', () => {
    expect(PERSON_COLOURS).toHaveLength(20);
    for (let i = 0; i < 20; i++) {
      for (let j = i + 1; j < 20; j++) {
        const d = deltaE(PERSON_COLOURS[i]!, PERSON_COLOURS[j]!);
        expect(d, `${PERSON_COLOURS[i]} vs ${PERSON_COLOURS[j]}`).toBeGreaterThanOrEqual(15);
      }
      expect(deltaE(PERSON_COLOURS[i]!, '#000000'), PERSON_COLOURS[i]).toBeGreaterThanOrEqual(35);
    }
  });

  it('gives ids 1..20 twenty different colours, and id 21 the colour of id 1', () => {
    expect(new Set(Array.from({ length: 20 }, (_, i) => personColour(i + 1))).size).toBe(20);
    expect(personColour(21)).toBe(personColour(1));
  });
});

describe('media bar', () => {
  it('steps to the middle of the next or previous frame, within the video', () => {
    const d = 1 / 30;
    expect(stepTarget(10 * d, d, 1, 4)).toBeCloseTo(11.5 * d, 12);
    expect(stepTarget(10 * d, d, -1, 4)).toBeCloseTo(9.5 * d, 12);
    expect(stepTarget(0, d, -1, 4)).toBeCloseTo(0.5 * d, 12);
    expect(stepTarget(4 - d, d, 1, 4)).toBeCloseTo(4 - 0.5 * d, 12);
  });

  it('formats media time as m:ss.ss', () => {
    expect(formatMediaTime(75.5)).toBe('1:15.50');
    expect(formatMediaTime(0.0333)).toBe('0:00.03');
    expect(formatMediaTime(Number.NaN)).toBe('–:––');
  });
});

describe('pose records', () => {
  it('writes one JSON object a line: frame, media time, resolution, poses with ids, scores and keypoints', () => {
    const p = { ...person(100.123456, 50, 200, 0.876543), id: 3 };
    const lines = toJsonLines([
      toPoseRecord(0, 1 / 30, { width: 257, height: 257 }, [p]),
      toPoseRecord(1, 2 / 30, { width: 257, height: 257 }, []),
    ]);
    const parsed = lines
      .trim()
      .split('\n')
      .map((l) => JSON.parse(l));
    expect(lines.endsWith('\n')).toBe(true);
    expect(parsed).toHaveLength(2);
    expect(parsed[0]).toMatchObject({ frame: 0, mediaTime: 0.033333, resolution: { width: 257, height: 257 } });
    expect(parsed[0].poses[0].id).toBe(3);
    expect(parsed[0].poses[0].score).toBe(0.8765);
    expect(parsed[0].poses[0].keypoints).toHaveLength(17);
    expect(parsed[0].poses[0].keypoints[0]).toEqual([100.12, -40, 0.8765]);
    expect(parsed[1].poses).toEqual([]);
    expect(toPoseRecord(0, null, { width: 1, height: 1 }, [person(0, 0, 1)]).poses[0]!.id).toBeNull();
  });
});
