/**
 * The demo page (index.html): PoseNet on a camera, a video or an image, with the input
 * resolution and model switched live, a per-pass GPU profiler and a resolution sweep.
 *
 * URL parameters (all optional):
 * - `src=<url>`: an image or video to use instead of the camera;
 * - `res=257` or `res=321x241`: the starting input resolution (default 257);
 * - `model=<name>`: a model from weights/index.json (default posenet-mobilenet-v1-075-s16);
 * - `minScore=0.3`, `flip=0|1` (default: on for the camera, off otherwise), `mode=single|multi`;
 * - `smooth=0|1` (default 1), `smoothStrength=0..1` (default 0.5): keypoint smoothing on videos;
 * - `continuous=1`: re-run a still image or paused video on every animation frame (timing);
 * - `aspect=1`: the input follows the source's aspect ratio (`res` is the long side);
 *   `flipTest=1`: the flip test; `fps=30`: targetFps (the resolution is chosen to hold it);
 * - `camera=0`: do not ask for the camera (offer the file drop straight away);
 * - `timestamps=0`: a device without timestamp-query (the profiler's whole-frame mode);
 * - `tuning=off`: the kernels' default variants (no tuning; default `auto`: tuned on this
 *   GPU over the first frames at each resolution, cached for the next visit);
 * - `worker=1`: run the PoseNet in a dedicated worker (the "Run in a worker" toggle);
 * - `direct=1`: give the network the video / image element itself rather than the
 *   frame's copy on a canvas (see PoseApp.direct; breaks video on SwiftShader).
 *
 * A parameter that cannot be used as given is replaced and the page says so (url-params.ts).
 *
 * Boot order: check WebGPU (else explain and stop), list the models, request a device,
 * open the source while the weights load, build the PoseNet, run frames.
 */
import { requestPoseNetDevice } from '../gpu/device.ts';
import { PoseApp } from './app.ts';
import { Controls, type SourceActions } from './controls.ts';
import { Banner } from './device-loss.ts';
import { bytes, h, ms, setAttr, setText } from './dom.ts';
import { installHandle } from './debug-handle.ts';
import { computeProfile, tuningText } from './metrics.ts';
import { fetchModelIndex, type ModelEntry } from './models.ts';
import { ProfilerPanel } from './profiler-panel.ts';
import { hasCameraApi, listCameras, openCamera, openFile, openUrl, type FrameSource } from './sources.ts';
import { SweepPanel } from './sweep.ts';
import { TargetFpsPanel } from './target-fps.ts';
import { checkModel, readUrlSettings } from './url-params.ts';
import { workerToggle } from './worker-toggle.ts';
import { deviceRefused, diagnoseWebGPU, genericError, noWeights, renderDiagnosis, type Diagnosis } from './unsupported.ts';
import { MediaBar } from './media-bar.ts';
import './style.css';

const params = new URLSearchParams(location.search);

let app: PoseApp | null = null;
let sweep: SweepPanel | null = null;
let problem: Diagnosis | null = null;
let ready = false;
let resolveStarted: (ok: boolean) => void = () => undefined;
const started = new Promise<boolean>((r) => (resolveStarted = r));
installHandle({ app: () => app, sweep: () => sweep, problem: () => problem, ready: () => ready, started });

const root = document.getElementById('app')!;
/** What the page is doing (announced to screen readers: index.html gives it role=status). */
const statusLine = document.getElementById('status') ?? h('div', { id: 'status' });
/** The running figures (fps, GPU ms): updated twice a second, so not announced. */
const statusMetrics = document.getElementById('status-metrics') ?? h('div', { id: 'status-metrics' });

function fail(d: Diagnosis): void {
  problem = d;
  statusLine.textContent = d.title;
  statusLine.className = 'status bad';
  renderDiagnosis(root, d);
  resolveStarted(false);
}

async function boot(): Promise<void> {
  statusLine.textContent = 'checking WebGPU…';
  const diagnosis = await diagnoseWebGPU();
  if (diagnosis) return fail(diagnosis);

  let models: ModelEntry[];
  try {
    models = await fetchModelIndex();
  } catch (err) {
    return fail(noWeights(`The model list (weights/index.json) could not be read: ${(err as Error).message}`));
  }
  if (!models.length) return fail(noWeights('weights/ holds no model.json (the converter writes weights/<name>/model.json).'));

  const deviceOptions = { timestamps: params.get('timestamps') !== '0' };
  let device: GPUDevice;
  try {
    device = await requestPoseNetDevice(deviceOptions);
  } catch (err) {
    return fail(deviceRefused(err));
  }

  statusLine.textContent = 'loading the model…';
  const { settings, notes } = readUrlSettings(params);
  settings.model = checkModel(settings.model, models, notes);
  const tuningParam = params.get('tuning');
  if (tuningParam !== null && tuningParam !== 'auto' && tuningParam !== 'off')
    notes.push(`tuning=${tuningParam} is not one of auto, off: using auto.`);
  const canvas = h('canvas', {
    id: 'view',
    width: 640,
    height: 480,
    role: 'img',
    'aria-label': 'the picture with the detected pose drawn over it (no source yet)',
  });
  const engine = new PoseApp(canvas, settings, {
    direct: params.get('direct') === '1',
    device: deviceOptions,
    tuning: tuningParam === 'off' ? 'off' : 'auto',
  });
  app = engine;

  // ----- layout -----
  const banner = new Banner();
  const dropZone = h(
    'div',
    { id: 'drop-zone', class: 'drop-zone', hidden: true },
    h('p', { class: 'big' }, 'Drop a video or an image here'),
    h('p', { id: 'drop-reason', class: 'muted' }),
    h(
      'label',
      { class: 'button' },
      'Choose a file…',
      h('input', { type: 'file', accept: 'image/*,video/*', hidden: true, onchange: (e: Event) => pickFile(e) }),
    ),
  );
  const placeholder = h('div', { id: 'placeholder', class: 'placeholder' }, 'loading the model…');
  const urlNotes = h(
    'div',
    { id: 'url-notes', class: 'notes', role: 'status', hidden: notes.length === 0 },
    h('strong', {}, 'URL parameters changed: '),
    h('ul', {}, ...notes.map((n) => h('li', {}, n))),
  );
  const mediaBar = new MediaBar(engine);
  const poseInfo = h('div', { id: 'pose-info', class: 'muted small' });
  const gpuErrors = h('div', { id: 'gpu-errors', class: 'field-error', role: 'alert', hidden: true });
  const stage = h(
    'section',
    { class: 'stage', id: 'stage' },
    banner.element,
    urlNotes,
    h('div', { class: 'canvas-box' }, canvas, placeholder, dropZone),
    mediaBar.element,
    poseInfo,
    gpuErrors,
  );

  let flipExplicit = params.has('flip');
  let cameraId: string | null = null;
  const describe = (s: FrameSource) => `${s.kind}: ${s.label}`;
  const use = (source: FrameSource, id: string | null) => {
    cameraId = id;
    if (!flipExplicit) engine.update({ flip: source.kind === 'camera' });
    engine.setSource(source);
    controls.setSourceLabel(describe(source));
    controls.showSourceError(null);
    dropZone.hidden = true;
  };
  const sources: SourceActions = {
    listCameras,
    currentCamera: () => cameraId,
    async useCamera(deviceId) {
      const s = await openCamera(deviceId);
      const track = (s.element as HTMLVideoElement).srcObject as MediaStream | null;
      use(s, track?.getVideoTracks()[0]?.getSettings().deviceId ?? deviceId ?? null);
      await controls.refreshCameras();
    },
    async useFile(file) {
      use(await openFile(file), null);
    },
  };
  const controls = new Controls(engine, sources);
  controls.element.querySelector('#flip')?.addEventListener('change', () => (flipExplicit = true));
  const profiler = new ProfilerPanel(engine);
  const speedAccuracy = new TargetFpsPanel(engine);
  sweep = new SweepPanel(engine);
  root.replaceChildren(
    h(
      'div',
      { class: 'layout' },
      h('div', { class: 'left' }, stage, sweep.element),
      h('aside', { class: 'side' }, controls.element, speedAccuracy.element, workerToggle(engine), profiler.element),
    ),
  );

  async function pickFile(e: Event): Promise<void> {
    const input = e.target as HTMLInputElement;
    const file = input.files?.[0];
    input.value = '';
    if (!file) return;
    try {
      await sources.useFile(file);
    } catch (err) {
      showDrop((err as Error).message);
    }
  }
  function showDrop(reason: string): void {
    placeholder.hidden = true;
    dropZone.hidden = false;
    (dropZone.querySelector('#drop-reason') as HTMLElement).textContent = reason;
  }
  // Drag-and-drop anywhere on the page.
  document.addEventListener('dragover', (e) => {
    e.preventDefault();
    stage.classList.add('dragging');
  });
  document.addEventListener('dragleave', (e) => {
    if (e.relatedTarget === null) stage.classList.remove('dragging');
  });
  document.addEventListener('drop', (e) => {
    e.preventDefault();
    stage.classList.remove('dragging');
    const file = e.dataTransfer?.files[0];
    if (file) sources.useFile(file).catch((err: Error) => (engine.source ? controls.showSourceError(err.message) : showDrop(err.message)));
  });

  // ----- status, pose info, errors, device loss -----
  let lastStatus = 0;
  let resumedNote: string | null = null;
  engine.on('frame', (r) => {
    if (resumedNote) {
      banner.show(resumedNote, 'info', 15_000);
      resumedNote = null;
    }
    if (!ready) {
      ready = true;
      placeholder.hidden = true;
      resolveStarted(true);
    }
    const pose = engine.poses[0];
    const shown = pose ? pose.keypoints.filter((k) => k.score >= engine.settings.minScore).length : 0;
    // Only what changed is written: each write lays the page out again.
    const info =
      engine.poses.length > 1
        ? `${engine.poses.length} poses`
        : pose
          ? `pose score ${pose.score.toFixed(2)} · ${shown}/17 keypoints ≥ ${engine.settings.minScore.toFixed(2)}`
          : 'no pose';
    setText(poseInfo, info);
    setAttr(canvas, 'aria-label', `${r.source}, with the detected pose drawn over it: ${info}`);
    const tuning = tuningText(engine.net?.tuning ?? null);
    const state = `running ${engine.settings.model} on ${r.source}${tuning ? ` · ${tuning}` : ''}`;
    if (statusLine.textContent !== state) {
      statusLine.className = 'status ok';
      statusLine.textContent = state;
    }
    if (r.t - lastStatus > 500) {
      lastStatus = r.t;
      const p = computeProfile(engine);
      setText(
        statusMetrics,
        `${r.width}×${r.height} · ${Number.isFinite(p.fps) ? p.fps.toFixed(1) : '–'} fps · ` +
          `GPU ${r.gpuMs === null ? '–' : ms(r.gpuMs)} ms · ${bytes(r.gpuBytes)} on the GPU` +
          (engine.adapterInfo ? ` · ${engine.adapterInfo}` : ''),
      );
    }
  });
  engine.on('error', () => {
    if (!engine.gpuErrors.length && !engine.lastError) return;
    gpuErrors.hidden = false;
    gpuErrors.textContent =
      (engine.gpuErrors.length ? `${engine.gpuErrors.length} GPU error(s), last: ${engine.gpuErrors[engine.gpuErrors.length - 1]}` : '') +
      (engine.lastError ? ` Frame failed: ${engine.lastError}` : '');
  });
  engine.on('device', (e) => {
    if (e.kind === 'lost') {
      banner.show(`The GPU device was lost (${e.reason ?? 'unknown'}${e.message ? `: ${e.message}` : ''}). Making a new device…`, 'warn');
      statusLine.textContent = 'GPU device lost: recovering…';
      statusLine.className = 'status warn';
    } else if (e.kind === 'recovered') {
      const r = engine.settings.resolution;
      const replaced = `The GPU device was lost (${e.reason ?? 'unknown'}) and replaced in ${Math.round(e.ms ?? 0)} ms`;
      banner.show(`${replaced}: resuming…`, 'info');
      // "Frames resumed" once one has (the first frame on a new device compiles its shaders: seconds on a CPU).
      resumedNote = `${replaced}: frames resumed with the same model (${engine.settings.model}), ${r.width}×${r.height} and settings.`;
    } else {
      banner.show(`The GPU device was lost and no new one could be made: ${e.message}. Reload the page.`, 'error');
      statusLine.textContent = 'GPU device lost';
      statusLine.className = 'status bad';
    }
  });

  // ----- source and model, in parallel -----
  const sourceReady = (async () => {
    const src = params.get('src');
    if (src) {
      try {
        use(await openUrl(src), null);
      } catch (err) {
        showDrop(`?src=${src}: ${(err as Error).message}`);
      }
      return;
    }
    if (params.get('camera') === '0') return showDrop('Camera off (camera=0).');
    if (!hasCameraApi()) return showDrop('This browser gives the page no camera.');
    const cams = await listCameras().catch(() => []);
    if (!cams.length) return showDrop('No camera was found.');
    placeholder.textContent = 'asking for the camera… (or drop a video or an image here)';
    try {
      await sources.useCamera();
    } catch (err) {
      showDrop(`No camera: ${(err as Error).message}.`);
    }
  })();
  try {
    await engine.start(device, models);
  } catch (err) {
    return fail(genericError('The model could not be started', err));
  }
  await sourceReady;
  await controls.refreshCameras();
  if (!engine.source) {
    placeholder.hidden = true;
    statusLine.textContent = `${engine.settings.model} ready · waiting for a video or an image`;
  }
  addEventListener('pagehide', () => engine.dispose());
}

boot().catch((err) => fail(genericError('The page failed to start', err)));
