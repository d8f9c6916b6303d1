/**
 * The controls, all live while frames run: source (camera picker, file picker), input
 * resolution (presets and a custom width × height checked against the model's output
 * stride), model, minimum keypoint confidence, horizontal flip, single or multiple
 * poses, keypoint smoothing and its strength. They call the PoseApp and redraw themselves
 * on its `change` events.
 */
import { WEIGHT_FORMAT_SUMMARY } from '../model/weight-format.ts';
import { ResolutionError, snapResolution } from '../plan/shapes.ts';
import type { PoseApp } from './app.ts';
import { bytes, h } from './dom.ts';
import type { ModelEntry } from './models.ts';

export const RESOLUTION_PRESETS = [161, 257, 321, 481, 641, 801] as const;

export const MULTI_POSE_PENDING = 'multi-pose decoding arrives with the multi-pose issue';

export interface SourceActions {
  listCameras(): Promise<MediaDeviceInfo[]>;
  useCamera(deviceId?: string): Promise<void>;
  useFile(file: File): Promise<void>;
  /** deviceId of the camera in use, if any. */
  currentCamera(): string | null;
}

export function validPresets(stride: number): number[] {
  return RESOLUTION_PRESETS.filter((r) => (r - 1) % stride === 0);
}

/**
 * The custom size fields: a width, and a height or nothing (a square). An empty or
 * non-numeric field is named in the error, rather than read as 0.
 */
export function parseCustomSize(widthText: string, heightText: string): { width: number; height: number } | { error: string } {
  const w = widthText.trim();
  const hgt = heightText.trim();
  if (w === '') return { error: 'Enter a width (and a height, or leave the height empty for a square).' };
  const width = Number(w);
  if (!Number.isFinite(width)) return { error: `The width "${w}" is not a number.` };
  if (hgt === '') return { width, height: width };
  const height = Number(hgt);
  if (!Number.isFinite(height)) return { error: `The height "${hgt}" is not a number.` };
  return { width, height };
}

export class Controls {
  readonly element: HTMLElement;
  private readonly presetButtons = new Map<number, HTMLButtonElement>();
  private readonly resW = h('input', {
    id: 'res-w',
    type: 'number',
    min: 129,
    max: 1025,
    step: 1,
    title: 'input width',
    'aria-label': 'input width',
  });
  private readonly resH = h('input', {
    id: 'res-h',
    type: 'number',
    min: 129,
    max: 1025,
    step: 1,
    title: 'input height',
    'aria-label': 'input height',
  });
  private readonly resError = h('div', { id: 'res-error', class: 'field-error', role: 'alert', hidden: true });
  private readonly resNow = h('span', { id: 'res-now', class: 'muted' });
  private readonly modelSelect = h('select', { id: 'model-select', 'aria-label': 'model' });
  private readonly modelInfo = h('div', { id: 'model-info', class: 'muted' });
  private readonly minScore = h('input', {
    id: 'min-score',
    type: 'range',
    min: 0,
    max: 1,
    step: 0.05,
    'aria-label': 'minimum keypoint confidence',
  });
  private readonly minScoreOut = h('output', { id: 'min-score-value' });
  private readonly flip = h('input', { id: 'flip', type: 'checkbox' });
  private readonly modeSingle = h('input', { id: 'mode-single', type: 'radio', name: 'mode', value: 'single' });
  private readonly modeMulti = h('input', { id: 'mode-multi', type: 'radio', name: 'mode', value: 'multi' });
  private readonly multiNote = h('div', { id: 'multi-note', class: 'muted' });
  private readonly smoothing = h('input', { id: 'smoothing', type: 'checkbox' });
  private readonly smoothingStrength = h('input', {
    id: 'smoothing-strength',
    type: 'range',
    min: 0,
    max: 1,
    step: 0.05,
    'aria-label': 'smoothing strength',
    title: 'light (left) to strong (right): strong takes more jitter off a still person and lags more on slow movement',
  });
  private readonly smoothingStrengthOut = h('output', { id: 'smoothing-strength-value' });
  private readonly multiOptions = h('div', { id: 'multi-options', class: 'row', hidden: true });
  private readonly maxDetections = h('input', {
    id: 'max-detections',
    type: 'number',
    min: 1,
    max: 20,
    step: 1,
    'aria-label': 'most poses',
  });
  private readonly nmsRadius = h('input', { id: 'nms-radius', type: 'number', min: 1, max: 100, step: 1, 'aria-label': 'NMS radius' });
  private readonly cameraSelect = h('select', { id: 'camera-select', 'aria-label': 'camera' });
  private readonly fileInput = h('input', { id: 'file-input', type: 'file', accept: 'image/*,video/*' });
  private readonly sourceLabel = h('div', { id: 'source-label', class: 'muted' });
  private readonly sourceError = h('div', { id: 'source-error', class: 'field-error', role: 'alert', hidden: true });
  private modelsShown = '';

  constructor(
    private readonly app: PoseApp,
    private readonly sources: SourceActions,
  ) {
    const presets = h(
      'div',
      { class: 'presets', role: 'group', 'aria-label': 'resolution presets' },
      ...RESOLUTION_PRESETS.map((r) => {
        const b = h('button', { class: 'preset', 'data-res': String(r), onclick: () => this.applyResolution(r, r) }, String(r));
        this.presetButtons.set(r, b);
        return b;
      }),
    );
    const applyCustom = () => this.applyCustom();
    for (const input of [this.resW, this.resH]) input.addEventListener('keydown', (e) => e.key === 'Enter' && applyCustom());

    this.modelSelect.addEventListener('change', () => void this.changeModel(this.modelSelect.value));
    this.minScore.addEventListener('input', () => this.app.update({ minScore: Number(this.minScore.value) }));
    this.flip.addEventListener('change', () => this.app.update({ flip: this.flip.checked }));
    this.smoothing.addEventListener('change', () => this.app.update({ smoothing: this.smoothing.checked }));
    this.smoothingStrength.addEventListener('input', () => this.app.update({ smoothingStrength: Number(this.smoothingStrength.value) }));
    for (const r of [this.modeSingle, this.modeMulti])
      r.addEventListener('change', () => r.checked && this.app.update({ mode: r.value as 'single' | 'multi' }));
    this.maxDetections.addEventListener('change', () => {
      const v = Math.round(Number(this.maxDetections.value));
      if (v >= 1) this.app.update({ maxDetections: v });
    });
    this.nmsRadius.addEventListener('change', () => {
      const v = Number(this.nmsRadius.value);
      if (v > 0) this.app.update({ nmsRadius: v });
    });
    this.cameraSelect.addEventListener(
      'change',
      () => void this.runSource(() => this.sources.useCamera(this.cameraSelect.value || undefined)),
    );
    this.fileInput.addEventListener('change', () => {
      const file = this.fileInput.files?.[0];
      if (file) void this.runSource(() => this.sources.useFile(file));
      this.fileInput.value = '';
    });
    this.multiOptions.append(
      h('label', {}, 'most poses ', this.maxDetections),
      h('label', {}, 'NMS radius ', this.nmsRadius, h('span', { class: 'muted' }, ' px')),
    );

    this.element = h(
      'section',
      { class: 'controls', id: 'controls' },
      h(
        'fieldset',
        {},
        h('legend', {}, 'Source'),
        h('label', { class: 'row' }, 'Camera ', this.cameraSelect),
        h('label', { class: 'row file' }, 'Video or image file ', this.fileInput),
        h('div', { class: 'muted small' }, 'or drop one on the picture; or open the page with ?src=<url>'),
        this.sourceLabel,
        this.sourceError,
      ),
      h(
        'fieldset',
        {},
        h('legend', {}, 'Input resolution'),
        presets,
        h(
          'div',
          { class: 'row custom-res' },
          this.resW,
          h('span', {}, '×'),
          this.resH,
          h('button', { id: 'res-apply', onclick: applyCustom }, 'Apply'),
          this.resNow,
        ),
        this.resError,
      ),
      h('fieldset', {}, h('legend', {}, 'Model'), this.modelSelect, this.modelInfo),
      h(
        'fieldset',
        {},
        h('legend', {}, 'Poses'),
        h('label', { class: 'row' }, 'Min keypoint confidence ', this.minScore, this.minScoreOut),
        h('label', { class: 'row' }, this.flip, ' Flip horizontally (selfie camera)'),
        h(
          'div',
          { class: 'row', role: 'radiogroup', 'aria-label': 'poses' },
          h('label', {}, this.modeSingle, ' single pose'),
          h('label', {}, this.modeMulti, ' multiple poses'),
        ),
        this.multiNote,
        this.multiOptions,
        h('label', { class: 'row' }, this.smoothing, ' Smooth keypoints over time (videos and the camera)'),
        h('label', { class: 'row' }, 'Smoothing strength ', this.smoothingStrength, this.smoothingStrengthOut),
      ),
    );
    app.on('change', () => this.refresh());
    app.on('frame', (r) => {
      const text = `running ${r.width} × ${r.height}`;
      if (this.resNow.textContent !== text) this.resNow.textContent = text;
    });
    this.refresh();
  }

  /** Refreshes the camera list (labels appear once permission is granted). */
  async refreshCameras(): Promise<void> {
    const cams = await this.sources.listCameras().catch(() => []);
    const current = this.sources.currentCamera();
    this.cameraSelect.replaceChildren(
      h('option', { value: '' }, cams.length ? '(default camera)' : 'no camera found'),
      ...cams.map((c, i) => h('option', { value: c.deviceId, selected: c.deviceId === current }, c.label || `camera ${i + 1}`)),
    );
    this.cameraSelect.disabled = cams.length === 0;
  }

  setSourceLabel(text: string): void {
    this.sourceLabel.textContent = text;
  }

  showSourceError(message: string | null): void {
    this.sourceError.hidden = !message;
    this.sourceError.textContent = message ?? '';
  }

  private async runSource(fn: () => Promise<void>): Promise<void> {
    try {
      this.showSourceError(null);
      await fn();
    } catch (err) {
      this.showSourceError((err as Error).message);
    }
  }

  private async changeModel(name: string): Promise<void> {
    try {
      await this.app.setModel(name);
    } catch (err) {
      this.modelInfo.textContent = `could not load ${name}: ${(err as Error).message}`;
      this.modelInfo.classList.add('field-error');
    }
  }

  private applyCustom(): void {
    const size = parseCustomSize(this.resW.value, this.resH.value);
    if ('error' in size) {
      this.resW.classList.toggle('invalid', this.resW.value.trim() === '' || !Number.isFinite(Number(this.resW.value)));
      this.resH.classList.toggle('invalid', this.resH.value.trim() !== '' && !Number.isFinite(Number(this.resH.value)));
      this.resError.replaceChildren(h('span', {}, size.error));
      this.resError.hidden = false;
      return;
    }
    this.applyResolution(size.width, size.height);
  }

  /** Applies a resolution, or shows why it is invalid and offers the nearest valid one. */
  applyResolution(width: number, height: number): boolean {
    try {
      this.app.setResolution(width, height);
      this.resError.hidden = true;
      this.resW.classList.remove('invalid');
      this.resH.classList.remove('invalid');
      return true;
    } catch (err) {
      if (!(err instanceof ResolutionError)) {
        // E.g. a dispatch over this device's limits: say so rather than fail silently.
        this.resError.replaceChildren(h('span', {}, `${width} × ${height} cannot run here: ${(err as Error).message}`));
        this.resError.hidden = false;
        return false;
      }
      const stride = this.app.outputStride;
      const sw = Number.isFinite(width) ? snapResolution(width, stride) : 257;
      const sh = Number.isFinite(height) ? snapResolution(height, stride) : 257;
      this.resW.classList.toggle('invalid', !isValid(width, stride));
      this.resH.classList.toggle('invalid', !isValid(height, stride));
      this.resError.replaceChildren(
        h(
          'span',
          {},
          `${width} × ${height} is not a valid input: each side must be k × ${stride} + 1 between 129 and 1025 for this model (output stride ${stride}). `,
        ),
        h('button', { id: 'res-snap', onclick: () => this.applyResolution(sw, sh) }, `Use ${sw} × ${sh}`),
      );
      this.resError.hidden = false;
      return false;
    }
  }

  private refresh(): void {
    const { app } = this;
    const s = app.settings;
    const stride = app.outputStride;
    const valid = new Set(validPresets(stride));
    for (const [r, b] of this.presetButtons) {
      b.disabled = !valid.has(r);
      b.title = valid.has(r) ? `${r} × ${r}` : `not k × ${stride} + 1`;
      b.setAttribute('aria-pressed', String(s.resolution.width === r && s.resolution.height === r));
    }
    if (document.activeElement !== this.resW && document.activeElement !== this.resH) {
      this.resW.value = String(s.resolution.width);
      this.resH.value = String(s.resolution.height);
    }
    const done = app.resolution;
    this.resNow.textContent = done ? `running ${done.width} × ${done.height}` : '';

    const modelsKey = app.models.map((m) => m.name).join();
    if (modelsKey !== this.modelsShown) {
      this.modelsShown = modelsKey;
      this.modelSelect.replaceChildren(...app.models.map((m) => h('option', { value: m.name }, modelLabel(m))));
    }
    this.modelSelect.value = app.modelLoading ?? s.model;
    const entry = app.models.find((m) => m.name === s.model);
    this.modelInfo.classList.remove('field-error');
    this.modelInfo.textContent = app.modelLoading
      ? `loading ${app.modelLoading}…`
      : entry
        ? `${entry.architecture}, output stride ${entry.outputStride}` +
          `${entry.weightsBytes ? `, ${bytes(entry.weightsBytes)} of ${WEIGHT_FORMAT_SUMMARY[entry.weightFormat ?? 'f32']} weights` : ''}` +
          (entry.randomWeights ? ' (random weights: for speed only, its poses mean nothing)' : '')
        : '';

    this.minScore.value = String(s.minScore);
    this.minScoreOut.textContent = s.minScore.toFixed(2);
    this.flip.checked = s.flip;
    this.smoothing.checked = s.smoothing;
    this.smoothingStrength.value = String(s.smoothingStrength);
    this.smoothingStrength.disabled = !s.smoothing;
    this.smoothingStrengthOut.textContent = s.smoothingStrength.toFixed(2);
    const multi = app.multiPoseAvailable;
    this.modeMulti.disabled = !multi;
    this.modeSingle.checked = s.mode === 'single';
    this.modeMulti.checked = s.mode === 'multi';
    this.multiNote.textContent = multi ? '' : MULTI_POSE_PENDING;
    this.multiNote.hidden = multi;
    this.multiOptions.hidden = !(multi && s.mode === 'multi');
    if (document.activeElement !== this.maxDetections) this.maxDetections.value = String(s.maxDetections);
    if (document.activeElement !== this.nmsRadius) this.nmsRadius.value = String(s.nmsRadius);
  }
}

function isValid(v: number, stride: number): boolean {
  return Number.isInteger(v) && v >= 129 && v <= 1025 && (v - 1) % stride === 0;
}

/** A model menu entry: its name, weight format and size (and whether its weights are random). */
function modelLabel(m: ModelEntry): string {
  const details = [
    m.weightFormat ?? 'f32',
    ...(m.weightsBytes ? [bytes(m.weightsBytes)] : []),
    ...(m.randomWeights ? ['random weights'] : []),
  ];
  return `${m.name} (${details.join(', ')})`;
}
