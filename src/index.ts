/**
 * posenet-webgpu: PoseNet on hand-written WebGPU compute shaders.
 *
 * ```ts
 * import { createPoseNet } from 'posenet-webgpu';
 * const net = await createPoseNet({ resolution: 257 }); // the package's model; or weights: '<folder URL>'
 * const pose = await net.estimateSinglePose(video, { flipHorizontal: true });
 * net.setResolution(513, 385);
 * net.setResolution({ longSide: 513 }); // each frame sized to its source's aspect ratio
 * net.setFlipTest(true); // each frame also runs mirrored; the heads are averaged on the GPU
 * net.setTargetFps(30); // the largest input size that holds 30 fps on this GPU
 * net.dispose();
 * ```
 *
 * `createPoseNet({ worker: true })` runs the pipeline in a dedicated worker (WorkerPoseNet:
 * the same API, each call a promise).
 */
export { createPoseNet } from './create.ts';
export type { CreatePoseNetOptions } from './create.ts';
export { DEFAULT_MODEL_NAME, defaultWeights } from './default-weights.ts';
export { frameTimestampMs, PoseNet, toPose } from './posenet.ts';
export { createWorkerPoseNet, WorkerModeError, WorkerPoseNet, WorkerProfiler } from './worker/client.ts';
export type { WorkerDeviceLost, WorkerPoseNetConfig } from './worker/client.ts';
export { WORKER_MEMBERS } from './worker/protocol.ts';
export type { WorkerCreated, WorkerMember, WorkerState } from './worker/protocol.ts';
export type {
  AspectResolution,
  FrameTiming,
  Head,
  Heads,
  MultiPoseEstimationOptions,
  MultiPoseStats,
  PixelSource,
  PoseNetConfig,
  PoseSource,
  Resolution,
  ResolutionSpec,
  SinglePoseOptions,
  TargetFps,
  TemporalOptions,
  UploadPath,
} from './posenet.ts';
export { OneEuroFilter } from './pose/one-euro.ts';
export type { OneEuroParams } from './pose/one-euro.ts';
export { PoseSmoother, SMOOTHING_DEFAULTS, poseSize } from './pose/smoother.ts';
export type { SmoothingOptions } from './pose/smoother.ts';
export { PoseTracker, TRACKER_DEFAULTS, COCO_SIGMAS, keypointSimilarity } from './pose/tracker.ts';
export type { Track, TrackedPose, TrackerOptions } from './pose/tracker.ts';
export type { SmoothingSetting, TrackingSetting } from './pose/temporal.ts';
export {
  MULTI_POSE_DEFAULTS,
  decodeMultiplePoses,
  findCandidates,
  confirmCandidates,
  scaleAndFlipPoses,
  checkMultiPoseOptions,
} from './pose/multi.ts';
export type { HeadsTensor, MultiPoseOptions, PartCandidate } from './pose/multi.ts';
export { requestPoseNetDevice, WebGPUUnavailableError } from './gpu/device.ts';
export type { DeviceOptions } from './gpu/device.ts';
export { Profiler } from './gpu/profiler.ts';
export { browserTuningStore, fileTuningStore, memoryTuningStore } from './gpu/tuning-store.ts';
export type { FileSystem, TuningStore } from './gpu/tuning-store.ts';
export type { TuningMode, TuningProgress } from './gpu/tuner.ts';
export type { TuningCandidate, TuningEntry, TuningTable } from './gpu/tuning.ts';
export type { FrameProfile, PassInfo, PassStats, TraceEvent } from './gpu/profiler.ts';
export { GpuLedger } from './gpu/resources.ts';
export { fetchWeights, loadWeights, ModelLoadError } from './model/model.ts';
export type { LoadedWeights, WeightsFiles, WeightsLocation, WeightsSource } from './model/model.ts';
export type { Manifest, Layer, HeadName } from './model/manifest.ts';
export {
  aspectResolution,
  checkResolution,
  snapResolution,
  validRange,
  ResolutionError,
  MIN_RESOLUTION,
  MAX_RESOLUTION,
} from './plan/shapes.ts';
export { TargetFpsController, TARGET_FPS_SIZES } from './plan/target-fps.ts';
export type { TargetFpsChoice, TargetFpsOptions, SizeEstimate } from './plan/target-fps.ts';
export { flipChannelTable, MIRRORED_EDGE, MIRRORED_PART } from './pose/flip.ts';
export { computeFit } from './pose/fit.ts';
export type { Fit } from './pose/fit.ts';
export { PART_NAMES, PART_IDS, NUM_KEYPOINTS, SKELETON, SKELETON_INDICES, POSE_CHAIN } from './pose/keypoints.ts';
export type { PartName } from './pose/keypoints.ts';
export type { FitMode, Keypoint, Pose, Vector2D } from './pose/types.ts';
