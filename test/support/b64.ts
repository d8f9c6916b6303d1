/** Float32Array <-> base64, to pass tensors between Node and a page (works in both). */

export function bytesToB64(bytes: Uint8Array): string {
  let s = '';
  const chunk = 0x8000;
  for (let i = 0; i < bytes.length; i += chunk) s += String.fromCharCode(...bytes.subarray(i, i + chunk));
  return btoa(s);
}

export function b64ToBytes(b64: string): Uint8Array<ArrayBuffer> {
  const s = atob(b64);
  const bytes = new Uint8Array(s.length);
  for (let i = 0; i < s.length; i++) bytes[i] = s.charCodeAt(i);
  return bytes;
}

export const f32ToB64 = (a: Float32Array): string => bytesToB64(new Uint8Array(a.buffer, a.byteOffset, a.byteLength));
export const b64ToF32 = (b64: string): Float32Array<ArrayBuffer> => {
  const bytes = b64ToBytes(b64);
  return new Float32Array(bytes.buffer, bytes.byteOffset, bytes.byteLength / 4);
};
