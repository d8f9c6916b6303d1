/**
 * The page's URL parameters, read into settings. A value that cannot be used as given is
 * replaced, and the page says what was changed and why (`notes`), rather than silently:
 * `res=abc` (not a size), `res=5000` (above the largest input), `res=300x200` (not
 * k × stride + 1), `minScore=5` (outside 0..1), `mode=both`, `flip=yes`, ... The model name
 * is checked against the model list later (checkModel), once the list is known.
 */
import { MAX_RESOLUTION, MIN_RESOLUTION, snapResolution } from '../plan/shapes.ts';
import { SMOOTHING_STRENGTH_DEFAULT, type Settings } from './app.ts';
import { DEFAULT_MODEL, type ModelEntry } from './models.ts';

export const DEFAULT_RESOLUTION = 257;
/** Every model the converter makes has output stride 8, 16 or 32; the URL is read before the model loads, so sizes are checked for 16 here and snapped again to the loaded model's stride. */
const URL_STRIDE = 16;

export interface UrlSettings {
  settings: Settings;
  /** One sentence per parameter replaced: what was given, what is used, and why. */
  notes: string[];
}

function parseSide(text: string, name: string, notes: string[]): number | null {
  const v = Number(text);
  if (text.trim() === '' || !Number.isFinite(v)) return null;
  if (!Number.isInteger(v)) notes.push(`${name} ${text} is not a whole number of pixels`);
  return v;
}

/** `res=257` or `res=321x241` (x, × or comma); anything else is explained and replaced. */
export function parseResolutionParam(text: string | null, notes: string[]): { width: number; height: number } {
  if (text === null) return { width: DEFAULT_RESOLUTION, height: DEFAULT_RESOLUTION };
  const parts = text.split(/[x×,]/i);
  const sideNotes: string[] = [];
  const width = parts.length <= 2 ? parseSide(parts[0] ?? '', 'width', sideNotes) : null;
  const height = parts.length === 2 ? parseSide(parts[1] ?? '', 'height', sideNotes) : width;
  if (width === null || height === null) {
    notes.push(`res=${text} is not a size (use res=257 or res=321x241): using ${DEFAULT_RESOLUTION} × ${DEFAULT_RESOLUTION}.`);
    return { width: DEFAULT_RESOLUTION, height: DEFAULT_RESOLUTION };
  }
  const w = snapResolution(width, URL_STRIDE);
  const h = snapResolution(height, URL_STRIDE);
  if (w !== width || h !== height) {
    const given = width === height && parts.length === 1 ? `${width}` : `${width} × ${height}`;
    const why =
      Math.max(width, height) > MAX_RESOLUTION
        ? `the largest input is ${MAX_RESOLUTION}`
        : Math.min(width, height) < MIN_RESOLUTION
          ? `the smallest input is ${MIN_RESOLUTION}`
          : `each side must be k × ${URL_STRIDE} + 1`;
    notes.push(`res=${text}: ${given} cannot run (${why}): using ${w} × ${h}.`);
  }
  return { width: w, height: h };
}

function parseNumber(
  params: URLSearchParams,
  name: string,
  fallback: number,
  min: number,
  max: number,
  notes: string[],
  integer = false,
): number {
  const text = params.get(name);
  if (text === null) return fallback;
  const v = Number(text);
  if (text.trim() === '' || !Number.isFinite(v)) {
    notes.push(`${name}=${text} is not a number: using ${fallback}.`);
    return fallback;
  }
  const clamped = Math.min(max, Math.max(min, integer ? Math.round(v) : v));
  if (clamped !== v) notes.push(`${name}=${text} is outside ${min}..${max}${integer ? ' (whole numbers)' : ''}: using ${clamped}.`);
  return clamped;
}

function parseChoice<T extends string>(params: URLSearchParams, name: string, choices: readonly T[], fallback: T, notes: string[]): T {
  const text = params.get(name);
  if (text === null) return fallback;
  if ((choices as readonly string[]).includes(text)) return text as T;
  notes.push(`${name}=${text} is not one of ${choices.join(', ')}: using ${fallback}.`);
  return fallback;
}

function parseFlag(params: URLSearchParams, name: string, fallback: boolean, notes: string[]): boolean {
  const text = params.get(name);
  if (text === null) return fallback;
  if (text === '1' || text === 'true') return true;
  if (text === '0' || text === 'false') return false;
  notes.push(`${name}=${text} is not 0 or 1: using ${fallback ? 1 : 0}.`);
  return fallback;
}

/** Settings from the URL's parameters, with a note for each value replaced. `flip` defaults to false here (main.ts picks the camera's default). */
export function readUrlSettings(params: URLSearchParams): UrlSettings {
  const notes: string[] = [];
  const settings: Settings = {
    model: params.get('model') || DEFAULT_MODEL,
    resolution: parseResolutionParam(params.get('res'), notes),
    minScore: parseNumber(params, 'minScore', 0.3, 0, 1, notes),
    flip: parseFlag(params, 'flip', false, notes),
    mode: parseChoice(params, 'mode', ['single', 'multi'] as const, 'single', notes),
    maxDetections: parseNumber(params, 'maxDetections', 5, 1, 20, notes, true),
    nmsRadius: parseNumber(params, 'nmsRadius', 20, 1, 100, notes),
    smoothing: parseFlag(params, 'smooth', true, notes),
    smoothingStrength: parseNumber(params, 'smoothStrength', SMOOTHING_STRENGTH_DEFAULT, 0, 1, notes),
    continuous: parseFlag(params, 'continuous', false, notes),
    worker: parseFlag(params, 'worker', false, notes),
    aspect: parseFlag(params, 'aspect', false, notes),
    flipTest: parseFlag(params, 'flipTest', false, notes),
    targetFps: params.get('fps') === null ? null : parseNumber(params, 'fps', 30, 0.1, 240, notes),
  };
  if (settings.minScore === 1 && params.get('minScore') !== null)
    notes.push('minScore 1 hides every keypoint scoring under 1, which is nearly all of them.');
  return { settings, notes };
}

/** The model to start with: the one named if the list has it, else the default (with a note). */
export function checkModel(name: string, models: readonly ModelEntry[], notes: string[]): string {
  if (models.some((m) => m.name === name)) return name;
  const fallback = models.find((m) => m.name === DEFAULT_MODEL)?.name ?? models[0]?.name ?? DEFAULT_MODEL;
  notes.push(`model=${name}: no such model (have: ${models.map((m) => m.name).join(', ')}): using ${fallback}.`);
  return fallback;
}
