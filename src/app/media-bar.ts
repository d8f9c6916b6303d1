/**
 * The bar under the picture: transport controls for a video file (play / pause, a seek
 * bar with the time, one frame back and forward, playback rate, loop) and the keepers
 * (Snapshot: the annotated frame as PNG; Record: every frame's poses as JSON Lines, see
 * src/pose/record.ts).
 *
 * Frame steps: a <video> does not say its frame rate, so the bar measures the frame
 * duration from the media times of the frames it sees presented (the smallest positive
 * step; 1/30 s until it has seen two consecutive frames), and a step seeks to the middle of
 * the next (or previous) frame, mediaTime ± duration + duration / 2, where rounding cannot
 * land it on the wrong frame.
 */
import type { PoseApp } from './app.ts';
import { downloadBlob, h, setAttr, setText } from './dom.ts';
import type { FrameSource } from './sources.ts';
import { toJsonLines } from '../pose/record.ts';

export const PLAYBACK_RATES = [0.1, 0.25, 0.5, 1, 1.5, 2] as const;
const DEFAULT_FRAME_SECONDS = 1 / 30;

/** 75.5 -> "1:15.50". */
export function formatMediaTime(seconds: number): string {
  if (!Number.isFinite(seconds) || seconds < 0) return '–:––';
  const m = Math.floor(seconds / 60);
  const s = seconds - 60 * m;
  return `${m}:${s.toFixed(2).padStart(5, '0')}`;
}

/** The seek target for a step of `dir` frames from the frame at `mediaTime`, within [0, duration]. */
export function stepTarget(mediaTime: number, frameSeconds: number, dir: 1 | -1, duration: number): number {
  const target = mediaTime + dir * frameSeconds + frameSeconds / 2;
  const last = Number.isFinite(duration) ? Math.max(0, duration - frameSeconds / 2) : Infinity;
  return Math.min(last, Math.max(frameSeconds / 2, target));
}

/** A file-name-safe form of a source label. */
function slug(text: string): string {
  return text.replace(/[^\w.-]+/g, '_').slice(0, 60);
}

export class MediaBar {
  readonly element: HTMLElement;
  private readonly transport = h('div', { id: 'transport', class: 'row transport', hidden: true });
  // Glyphs from the Geometric Shapes block only: fonts without the media-control symbols still draw them.
  private readonly playPause = h('button', { id: 'play-pause', class: 'play' }, '▶ Play');
  private readonly back = h('button', { id: 'step-back', 'aria-label': 'one frame back', title: 'one frame back' }, '◀ 1 frame');
  private readonly forward = h(
    'button',
    { id: 'step-forward', 'aria-label': 'one frame forward', title: 'one frame forward' },
    '1 frame ▶',
  );
  private readonly seek = h('input', {
    id: 'seek',
    type: 'range',
    min: 0,
    max: 1,
    step: 'any',
    value: '0',
    'aria-label': 'position in the video',
  });
  private readonly time = h('span', { id: 'media-time', class: 'time' });
  private readonly rate = h(
    'select',
    { id: 'playback-rate', 'aria-label': 'playback rate' },
    ...PLAYBACK_RATES.map((r) => h('option', { value: String(r), selected: r === 1 }, `${r}×`)),
  );
  private readonly loop = h('input', { id: 'loop', type: 'checkbox' });
  private readonly snapshotButton = h(
    'button',
    { id: 'snapshot', title: 'save the picture with the pose drawn over it (PNG)' },
    'Snapshot',
  );
  private readonly recordButton = h(
    'button',
    { id: 'record', 'aria-pressed': 'false', title: 'keep every frame’s poses (JSON Lines)' },
    'Record',
  );
  private readonly recordStatus = h('span', { id: 'record-status', class: 'muted small', 'aria-live': 'polite' });
  private source: FrameSource | null = null;
  private unwatch: (() => void) | null = null;
  /** The smallest positive step between presented frames' media times (s). */
  private measuredFrameSeconds = Infinity;
  private lastFrameTime = Number.NaN;
  private dragging = false;

  constructor(private readonly app: PoseApp) {
    this.transport.append(
      this.playPause,
      this.back,
      this.forward,
      this.seek,
      this.time,
      h('label', { class: 'small' }, 'speed ', this.rate),
      h('label', { class: 'small' }, this.loop, ' loop'),
    );
    this.element = h(
      'div',
      { id: 'media-bar', class: 'media-bar' },
      this.transport,
      h('div', { class: 'row keep' }, this.snapshotButton, this.recordButton, this.recordStatus),
    );
    this.playPause.addEventListener('click', () => this.togglePlay());
    this.back.addEventListener('click', () => this.step(-1));
    this.forward.addEventListener('click', () => this.step(1));
    this.seek.addEventListener('input', () => {
      this.dragging = true;
      const v = this.video();
      if (v) v.currentTime = Number(this.seek.value);
    });
    this.seek.addEventListener('change', () => (this.dragging = false));
    this.rate.addEventListener('change', () => {
      const v = this.video();
      if (v) v.playbackRate = Number(this.rate.value);
    });
    this.loop.addEventListener('change', () => {
      const v = this.video();
      if (v) v.loop = this.loop.checked;
    });
    this.snapshotButton.addEventListener('click', () => void this.snapshot());
    this.recordButton.addEventListener('click', () => this.toggleRecord());
    app.on('change', () => this.bind(app.source));
    app.on('frame', () => this.refreshRecord());
    this.bind(app.source);
  }

  private video(): HTMLVideoElement | null {
    return this.source?.kind === 'video' ? (this.source.element as HTMLVideoElement) : null;
  }

  /** Follows the app's source: shows the transport for a video file. */
  private bind(source: FrameSource | null): void {
    this.refreshRecord();
    if (source === this.source) return;
    this.unwatch?.();
    this.unwatch = null;
    this.source = source;
    this.measuredFrameSeconds = Infinity;
    this.lastFrameTime = Number.NaN;
    const video = this.video();
    this.transport.hidden = !video;
    if (!video) return;
    const refresh = () => this.refresh();
    const events = ['play', 'pause', 'durationchange', 'ratechange', 'seeked', 'timeupdate', 'loadedmetadata'];
    for (const e of events) video.addEventListener(e, refresh);
    const off = source!.onFrame((t) => this.sawFrame(t));
    this.unwatch = () => {
      off();
      for (const e of events) video.removeEventListener(e, refresh);
    };
    this.refresh();
  }

  /** Duration of one frame (s): measured, or 1/30 s until two consecutive frames were seen. */
  get frameSeconds(): number {
    return Number.isFinite(this.measuredFrameSeconds) ? this.measuredFrameSeconds : DEFAULT_FRAME_SECONDS;
  }

  private sawFrame(t: number): void {
    // Consecutive frames differ by one frame duration, skipped frames by more: the smallest wins.
    const step = t - this.lastFrameTime;
    if (step > 1e-4 && step < this.measuredFrameSeconds) this.measuredFrameSeconds = step;
    this.lastFrameTime = t;
    this.refresh();
  }

  private refresh(): void {
    const video = this.video();
    if (!video) return;
    const playing = !video.paused && !video.ended;
    // Only what changed is written (this runs on every frame of a playing video).
    setText(this.playPause, playing ? '■ Pause' : '▶ Play');
    const duration = Number.isFinite(video.duration) ? video.duration : 0;
    this.seek.max = String(duration || 1);
    const shown = this.source?.mediaTime() ?? video.currentTime;
    if (!this.dragging) this.seek.value = String(shown);
    const frame = Math.round(shown / this.frameSeconds);
    setText(this.time, `${formatMediaTime(shown)} / ${formatMediaTime(duration)} · frame ${frame}`);
    this.rate.value = String(video.playbackRate);
    this.loop.checked = video.loop;
  }

  togglePlay(): void {
    const video = this.video();
    if (!video) return;
    if (video.paused || video.ended) void video.play().catch(() => undefined);
    else video.pause();
  }

  /** One frame forward (1) or back (-1); pauses first. */
  step(dir: 1 | -1): void {
    const video = this.video();
    if (!video) return;
    video.pause();
    const now = this.source?.mediaTime() ?? video.currentTime;
    video.currentTime = stepTarget(now, this.frameSeconds, dir, video.duration);
  }

  private name(ext: string): string {
    const s = this.source;
    const t = s?.mediaTime();
    return `posenet-${slug(s ? s.label : 'none')}${t !== null && t !== undefined ? `-t${t.toFixed(3)}` : ''}-${Date.now()}.${ext}`;
  }

  /** Saves the picture as drawn (frame and pose) as a PNG. */
  async snapshot(): Promise<void> {
    const blob = await new Promise<Blob | null>((resolve) => this.app.picture().toBlob(resolve, 'image/png'));
    if (blob) downloadBlob(this.name('png'), blob);
  }

  toggleRecord(): void {
    if (this.app.isRecording) {
      const records = this.app.stopRecording();
      downloadBlob(this.name('jsonl'), new Blob([toJsonLines(records)], { type: 'application/x-ndjson' }));
      this.recordStatus.textContent = `saved ${records.length} frame${records.length === 1 ? '' : 's'}`;
    } else {
      this.app.startRecording();
    }
    this.refreshRecord();
  }

  private refreshRecord(): void {
    const recording = this.app.isRecording;
    const still = !this.app.source || this.app.source.kind === 'image';
    this.recordButton.disabled = still && !recording;
    setAttr(
      this.recordButton,
      'title',
      still ? 'Record keeps the poses of a video or the camera, frame by frame' : 'keep every frame’s poses (JSON Lines)',
    );
    setText(this.recordButton, recording ? '■ Stop recording' : '● Record');
    setAttr(this.recordButton, 'aria-pressed', String(recording));
    this.recordButton.classList.toggle('recording', recording);
    if (recording) setText(this.recordStatus, `recording: ${this.app.recordedFrames} frame${this.app.recordedFrames === 1 ? '' : 's'}`);
  }
}
