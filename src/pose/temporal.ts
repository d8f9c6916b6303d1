/**
 * What PoseNet keeps between frames of a video: one PoseSmoother for single-pose frames,
 * and for multi-pose frames a PoseTracker with a PoseSmoother per live track (made when
 * a track starts, dropped when it ends). PoseNet owns one; `reset()` forgets it all
 * (a seek, a new source, a new model).
 */
import { PoseSmoother, type SmoothingOptions } from './smoother.ts';
import { PoseTracker, type TrackedPose, type TrackerOptions } from './tracker.ts';
import type { Pose } from './types.ts';

/** `true` for the defaults, an object to set parameters, `false` / absent for none. */
export type SmoothingSetting = boolean | SmoothingOptions | undefined;
export type TrackingSetting = boolean | TrackerOptions | undefined;

function optionsOf<T extends object>(setting: boolean | T | undefined): T | null {
  if (!setting) return null;
  return setting === true ? ({} as T) : setting;
}

export class PoseHistory {
  private single: PoseSmoother | null = null;
  private tracker: PoseTracker | null = null;
  private readonly perTrack = new Map<number, PoseSmoother>();

  /** The single-pose frame's pose, smoothed when `smoothing` asks for it. */
  smoothSingle(pose: Pose, timestampMs: number, smoothing: SmoothingSetting): Pose {
    const options = optionsOf(smoothing);
    if (!options) return pose;
    if (!this.single) this.single = new PoseSmoother(options);
    else this.single.setOptions(options);
    return this.single.smooth(pose, timestampMs);
  }

  /**
   * A multi-pose frame's poses with track ids (when tracking or smoothing is asked for:
   * smoothing needs to know who is who), each smoothed by its track's smoother.
   */
  trackMultiple(poses: Pose[], timestampMs: number, tracking: TrackingSetting, smoothing: SmoothingSetting): Pose[] | TrackedPose[] {
    const smoothOptions = optionsOf(smoothing);
    const trackOptions = optionsOf(tracking) ?? (smoothOptions ? {} : null);
    if (!trackOptions) return poses;
    if (!this.tracker) {
      this.tracker = new PoseTracker(trackOptions);
      this.tracker.onEnd = (ids) => {
        for (const id of ids) this.perTrack.delete(id);
      };
    } else if (typeof tracking === 'object') {
      this.tracker.setOptions(trackOptions);
    }
    const tracked = this.tracker.update(poses, timestampMs);
    if (!smoothOptions) return tracked;
    return tracked.map((pose) => {
      let smoother = this.perTrack.get(pose.id);
      if (!smoother) {
        smoother = new PoseSmoother(smoothOptions);
        this.perTrack.set(pose.id, smoother);
      } else {
        smoother.setOptions(smoothOptions);
      }
      return { ...smoother.smooth(pose, timestampMs), id: pose.id };
    });
  }

  /** Forgets every smoother's history and every track (ids keep counting up). */
  reset(): void {
    this.single?.reset();
    this.tracker?.reset();
    this.perTrack.clear();
  }
}
