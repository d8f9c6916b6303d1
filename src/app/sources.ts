/**
 * Where frames come from: a camera (any of the devices the browser lists), a video or
 * image file (picker or drag-and-drop), or an image / video URL (`?src=`). Each opens
 * into a `FrameSource`: a DOM element the network reads directly, its size, and a
 * `stop()` that releases it (camera tracks, object URLs).
 *
 * Cameras and videos say when a new frame is on screen (`onFrame`), with its media time:
 * through requestVideoFrameCallback where the browser has it (the frame actually
 * presented, and its exact media time), else through `seeked` events and a
 * requestAnimationFrame watch of currentTime. A still image never changes.
 */

export type SourceKind = 'camera' | 'video' | 'image';

export interface FrameSource {
  kind: SourceKind;
  /** What the page shows, e.g. the camera's label or the file name. */
  label: string;
  element: HTMLVideoElement | HTMLImageElement;
  /** Pixel size of the current frame (0 until the first frame). */
  width(): number;
  height(): number;
  /** True when a frame is available to read. */
  ready(): boolean;
  /** Media time (s) of the frame on screen: the video's; null for an image. */
  mediaTime(): number | null;
  /**
   * Calls `fn` each time a new frame is on screen (a playing video's next frame, the frame
   * shown after a seek, a camera's next frame); never for an image. Returns an unsubscribe.
   */
  onFrame(fn: (mediaTime: number) => void): () => void;
  stop(): void;
}

export class SourceError extends Error {
  override name = 'SourceError';
}

const VIDEO_EXT = /\.(mp4|webm|ogv|ogg|mov|m4v|mkv)(\?|#|$)/i;

/** Watches a video for new frames on screen; `stop()` ends the watch. */
class FrameWatch {
  private readonly listeners = new Set<(t: number) => void>();
  private stopped = false;
  private handle = 0;
  /** Media time of the frame on screen, as last reported. */
  time: number;

  constructor(private readonly video: HTMLVideoElement) {
    this.time = video.currentTime;
    if (typeof video.requestVideoFrameCallback === 'function') {
      const next = () => {
        this.handle = video.requestVideoFrameCallback((_now, meta) => {
          if (this.stopped) return;
          this.emit(meta.mediaTime);
          next();
        });
      };
      next();
    } else {
      // No requestVideoFrameCallback: a changed currentTime means a new frame, near enough.
      const poll = () => {
        if (this.stopped) return;
        if (video.currentTime !== this.time && video.readyState >= HTMLMediaElement.HAVE_CURRENT_DATA) this.emit(video.currentTime);
        this.handle = requestAnimationFrame(poll);
      };
      this.handle = requestAnimationFrame(poll);
    }
  }

  private emit(t: number): void {
    this.time = t;
    for (const fn of this.listeners) fn(t);
  }

  subscribe(fn: (t: number) => void): () => void {
    this.listeners.add(fn);
    return () => this.listeners.delete(fn);
  }

  stop(): void {
    this.stopped = true;
    if (typeof this.video.cancelVideoFrameCallback === 'function') this.video.cancelVideoFrameCallback(this.handle);
    else cancelAnimationFrame(this.handle);
    this.listeners.clear();
  }
}

function videoSource(kind: 'camera' | 'video', label: string, video: HTMLVideoElement, stop: () => void): FrameSource {
  const watch = new FrameWatch(video);
  return {
    kind,
    label,
    element: video,
    width: () => video.videoWidth,
    height: () => video.videoHeight,
    ready: () => video.readyState >= HTMLMediaElement.HAVE_CURRENT_DATA && video.videoWidth > 0,
    mediaTime: () => watch.time,
    onFrame: (fn) => watch.subscribe(fn),
    stop: () => {
      watch.stop();
      stop();
    },
  };
}

function imageSource(label: string, img: HTMLImageElement, stop: () => void): FrameSource {
  return {
    kind: 'image',
    label,
    element: img,
    width: () => img.naturalWidth,
    height: () => img.naturalHeight,
    ready: () => img.complete && img.naturalWidth > 0,
    mediaTime: () => null,
    onFrame: () => () => undefined,
    stop,
  };
}

function newVideo(): HTMLVideoElement {
  const video = document.createElement('video');
  video.muted = true;
  video.playsInline = true;
  video.loop = true;
  video.autoplay = true;
  return video;
}

/** Resolves once the video has a frame, rejects on a media error. */
function videoLoaded(video: HTMLVideoElement, what: string): Promise<void> {
  return new Promise((resolve, reject) => {
    if (video.readyState >= HTMLMediaElement.HAVE_CURRENT_DATA && video.videoWidth > 0) return resolve();
    const done = () => {
      video.removeEventListener('loadeddata', done);
      video.removeEventListener('error', fail);
      resolve();
    };
    const fail = () => {
      video.removeEventListener('loadeddata', done);
      video.removeEventListener('error', fail);
      reject(
        new SourceError(`${what}: the video could not be decoded (${video.error?.message || `media error ${video.error?.code ?? '?'}`})`),
      );
    };
    video.addEventListener('loadeddata', done);
    video.addEventListener('error', fail);
  });
}

function imageLoaded(img: HTMLImageElement, what: string): Promise<void> {
  return img.decode().catch(() => {
    throw new SourceError(`${what}: the image could not be loaded or decoded`);
  });
}

export function hasCameraApi(): boolean {
  return !!navigator.mediaDevices?.getUserMedia;
}

/** Video input devices; labels are empty until camera permission is granted. */
export async function listCameras(): Promise<MediaDeviceInfo[]> {
  if (!navigator.mediaDevices?.enumerateDevices) return [];
  const devices = await navigator.mediaDevices.enumerateDevices();
  return devices.filter((d) => d.kind === 'videoinput');
}

export async function openCamera(deviceId?: string): Promise<FrameSource> {
  if (!hasCameraApi()) throw new SourceError('this browser gives no camera access here (navigator.mediaDevices is missing)');
  let stream: MediaStream;
  try {
    stream = await navigator.mediaDevices.getUserMedia({
      video: deviceId ? { deviceId: { exact: deviceId } } : { width: { ideal: 640 }, height: { ideal: 480 } },
      audio: false,
    });
  } catch (err) {
    const e = err as DOMException;
    const why =
      e.name === 'NotAllowedError'
        ? 'camera permission was denied'
        : e.name === 'NotFoundError' || e.name === 'OverconstrainedError'
          ? 'no camera was found'
          : e.name === 'NotReadableError'
            ? 'the camera is in use by another program'
            : `${e.name}: ${e.message}`;
    throw new SourceError(why);
  }
  const track = stream.getVideoTracks()[0];
  const video = newVideo();
  video.srcObject = stream;
  const stop = () => {
    for (const t of stream.getTracks()) t.stop();
    video.srcObject = null;
  };
  try {
    await video.play().catch(() => undefined);
    await videoLoaded(video, 'camera');
  } catch (err) {
    stop();
    throw err;
  }
  return videoSource('camera', track?.label || 'camera', video, stop);
}

export async function openFile(file: File): Promise<FrameSource> {
  const url = URL.createObjectURL(file);
  const isVideo = file.type.startsWith('video/') || (!file.type && VIDEO_EXT.test(file.name));
  const isImage = file.type.startsWith('image/');
  if (!isVideo && !isImage) {
    URL.revokeObjectURL(url);
    throw new SourceError(`${file.name}: not an image or a video (type "${file.type || 'unknown'}")`);
  }
  try {
    return await openMedia(url, file.name, isVideo ? 'video' : 'image', () => URL.revokeObjectURL(url));
  } catch (err) {
    URL.revokeObjectURL(url);
    throw err;
  }
}

/**
 * What a URL holds, from its response headers (the body is not read): the HTTP status
 * and content type, or null when it cannot be fetched from here (a network error, or
 * another site that does not allow cross-origin reads).
 */
async function probeUrl(url: string): Promise<{ status: number; statusText: string; type: string } | null> {
  const abort = new AbortController();
  try {
    const r = await fetch(url, { signal: abort.signal, cache: 'no-store' });
    abort.abort(); // the headers are enough
    return { status: r.status, statusText: r.statusText, type: (r.headers.get('content-type') ?? '').split(';')[0]!.trim() };
  } catch {
    return null;
  }
}

/** An image or video at a URL; other origins must allow CORS (the GPU cannot read tainted pixels). */
export async function openUrl(url: string): Promise<FrameSource> {
  const name = decodeURIComponent(url.split('/').pop() || url);
  const probe = await probeUrl(url);
  if (probe && probe.status >= 400) {
    const why = probe.status === 404 ? 'not found' : probe.statusText || 'error';
    throw new SourceError(`${url}: HTTP ${probe.status} (${why})`);
  }
  const type = probe?.type ?? '';
  const isVideo = type.startsWith('video/') || (!type.startsWith('image/') && VIDEO_EXT.test(url));
  if (isVideo) return openMedia(url, name, 'video', () => undefined);
  try {
    return await openMedia(url, name, 'image', () => undefined);
  } catch {
    // Not an image: perhaps a video without a telling extension or type.
    try {
      return await openMedia(url, name, 'video', () => undefined);
    } catch {
      if (probe) throw new SourceError(`${url}: not an image or a video this browser can decode${type ? ` (it is ${type})` : ''}`);
      throw new SourceError(
        `${url}: could not be loaded (if it is on another site, that site must allow cross-origin use (CORS); else check the address)`,
      );
    }
  }
}

async function openMedia(url: string, label: string, kind: 'video' | 'image', release: () => void): Promise<FrameSource> {
  const crossOrigin = new URL(url, location.href).origin !== location.origin;
  if (kind === 'video') {
    const video = newVideo();
    if (crossOrigin) video.crossOrigin = 'anonymous';
    video.src = url;
    await videoLoaded(video, label);
    await video.play().catch(() => undefined);
    return videoSource('video', label, video, () => {
      video.pause();
      video.removeAttribute('src');
      video.load();
      release();
    });
  }
  const img = new Image();
  if (crossOrigin) img.crossOrigin = 'anonymous';
  img.src = url;
  await imageLoaded(img, label);
  return imageSource(label, img, release);
}
