/**
 * PoseNet's 17 keypoints (COCO order) and the skeleton, as in @tensorflow-models/posenet.
 */

export const PART_NAMES = [
  'nose',
  'leftEye',
  'rightEye',
  'leftEar',
  'rightEar',
  'leftShoulder',
  'rightShoulder',
  'leftElbow',
  'rightElbow',
  'leftWrist',
  'rightWrist',
  'leftHip',
  'rightHip',
  'leftKnee',
  'rightKnee',
  'leftAnkle',
  'rightAnkle',
] as const;

export type PartName = (typeof PART_NAMES)[number];
export const NUM_KEYPOINTS = PART_NAMES.length;

export const PART_IDS: Readonly<Record<PartName, number>> = Object.fromEntries(PART_NAMES.map((name, i) => [name, i])) as Record<
  PartName,
  number
>;

/** Bones drawn over the image (TF.js PoseNet's connectedPartNames). */
export const SKELETON: readonly (readonly [PartName, PartName])[] = [
  ['leftHip', 'leftShoulder'],
  ['leftElbow', 'leftShoulder'],
  ['leftElbow', 'leftWrist'],
  ['leftHip', 'leftKnee'],
  ['leftKnee', 'leftAnkle'],
  ['rightHip', 'rightShoulder'],
  ['rightElbow', 'rightShoulder'],
  ['rightElbow', 'rightWrist'],
  ['rightHip', 'rightKnee'],
  ['rightKnee', 'rightAnkle'],
  ['leftShoulder', 'rightShoulder'],
  ['leftHip', 'rightHip'],
];

export const SKELETON_INDICES: readonly (readonly [number, number])[] = SKELETON.map(([a, b]) => [PART_IDS[a], PART_IDS[b]] as const);

/**
 * The part tree the multi-pose decoder walks from a root keypoint (TF.js PoseNet's
 * poseChain): edge e connects parent POSE_CHAIN[e][0] to child POSE_CHAIN[e][1]; the
 * displacement heads hold one (dy, dx) channel pair per edge.
 */
export const POSE_CHAIN: readonly (readonly [PartName, PartName])[] = [
  ['nose', 'leftEye'],
  ['leftEye', 'leftEar'],
  ['nose', 'rightEye'],
  ['rightEye', 'rightEar'],
  ['nose', 'leftShoulder'],
  ['leftShoulder', 'leftElbow'],
  ['leftElbow', 'leftWrist'],
  ['leftShoulder', 'leftHip'],
  ['leftHip', 'leftKnee'],
  ['leftKnee', 'leftAnkle'],
  ['nose', 'rightShoulder'],
  ['rightShoulder', 'rightElbow'],
  ['rightElbow', 'rightWrist'],
  ['rightShoulder', 'rightHip'],
  ['rightHip', 'rightKnee'],
  ['rightKnee', 'rightAnkle'],
];
