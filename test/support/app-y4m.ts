/** The fake camera of the app tests: one implementation, shared with `npm run longtasks`, lives in tools/lib/fake-camera.ts. */
export * from '../../tools/lib/fake-camera.ts';
