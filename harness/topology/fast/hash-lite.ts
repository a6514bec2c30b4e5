// `createHash` for `vxlab validate`'s quick path (scripts/build.mjs puts it in place of node:crypto in that bundle only):
// normalize derives every node's MACs from SHA-1 / SHA-256 of its names, and loading node:crypto (with the stream
// modules it pulls in) costs more start-up than the whole validation of a small topology. SHA-1 and SHA-256 of
// strings are computed here (FIPS 180-4); anything else — another algorithm, options, Buffer input, an encoding for
// update() — is handed to node:crypto itself, loaded then. test/unit/hash-lite.test.ts holds it to node:crypto.
import { createRequire } from 'node:module';

type Chunk = [data: unknown, encoding: unknown];

const K256 = new Uint32Array([
  0x428a2f98, 0x71374491, 0xb5c0fbcf, 0xe9b5dba5, 0x3956c25b, 0x59f111f1, 0x923f82a4, 0xab1c5ed5, 0xd807aa98, 0x12835b01, 0x243185be, 0x550c7dc3,
  0x72be5d74, 0x80deb1fe, 0x9bdc06a7, 0xc19bf174, 0xe49b69c1, 0xefbe4786, 0x0fc19dc6, 0x240ca1cc, 0x2de92c6f, 0x4a7484aa, 0x5cb0a9dc, 0x76f988da,
  0x983e5152, 0xa831c66d, 0xb00327c8, 0xbf597fc7, 0xc6e00bf3, 0xd5a79147, 0x06ca6351, 0x14292967, 0x27b70a85, 0x2e1b2138, 0x4d2c6dfc, 0x53380d13,
  0x650a7354, 0x766a0abb, 0x81c2c92e, 0x92722c85, 0xa2bfe8a1, 0xa81a664b, 0xc24b8b70, 0xc76c51a3, 0xd192e819, 0xd6990624, 0xf40e3585, 0x106aa070,
  0x19a4c116, 0x1e376c08, 0x2748774c, 0x34b0bcb5, 0x391c0cb3, 0x4ed8aa4a, 0x5b9cca4f, 0x682e6ff3, 0x748f82ee, 0x78a5636f, 0x84c87814, 0x8cc70208,
  0x90befffa, 0xa4506ceb, 0xbef9a3f7, 0xc67178f2,
]);

/** The message padded to whole 64-byte blocks, big-endian bit length last (SHA-1 and SHA-256 pad alike). */
function pad(m: Uint8Array): DataView {
  const n = Math.ceil((m.length + 9) / 64) * 64;
  const b = new Uint8Array(n);
  b.set(m);
  b[m.length] = 0x80;
  const v = new DataView(b.buffer);
  const bits = m.length * 8;
  v.setUint32(n - 8, Math.floor(bits / 0x100000000));
  v.setUint32(n - 4, bits >>> 0);
  return v;
}

export function sha256(m: Uint8Array): Uint8Array {
  const v = pad(m);
  const h = new Uint32Array([0x6a09e667, 0xbb67ae85, 0x3c6ef372, 0xa54ff53a, 0x510e527f, 0x9b05688c, 0x1f83d9ab, 0x5be0cd19]);
  const w = new Uint32Array(64);
  for (let o = 0; o < v.byteLength; o += 64) {
    for (let i = 0; i < 16; i++) w[i] = v.getUint32(o + i * 4);
    for (let i = 16; i < 64; i++) {
      const a = w[i - 15];
      const b = w[i - 2];
      const s0 = ((a >>> 7) | (a << 25)) ^ ((a >>> 18) | (a << 14)) ^ (a >>> 3);
      const s1 = ((b >>> 17) | (b << 15)) ^ ((b >>> 19) | (b << 13)) ^ (b >>> 10);
      w[i] = (w[i - 16] + s0 + w[i - 7] + s1) >>> 0;
    }
    let [a, b, c, d, e, f, g, k] = h;
    for (let i = 0; i < 64; i++) {
      const S1 = ((e >>> 6) | (e << 26)) ^ ((e >>> 11) | (e << 21)) ^ ((e >>> 25) | (e << 7));
      const ch = (e & f) ^ (~e & g);
      const t1 = (k + S1 + ch + K256[i] + w[i]) >>> 0;
      const S0 = ((a >>> 2) | (a << 30)) ^ ((a >>> 13) | (a << 19)) ^ ((a >>> 22) | (a << 10));
      const maj = (a & b) ^ (a & c) ^ (b & c);
      const t2 = (S0 + maj) >>> 0;
      k = g;
      g = f;
      f = e;
      e = (d + t1) >>> 0;
      d = c;
      c = b;
      b = a;
      a = (t1 + t2) >>> 0;
    }
    h[0] += a;
    h[1] += b;
    h[2] += c;
    h[3] += d;
    h[4] += e;
    h[5] += f;
    h[6] += g;
    h[7] += k;
  }
  return words(h);
}

export function sha1(m: Uint8Array): Uint8Array {
  const v = pad(m);
  const h = new Uint32Array([0x67452301, 0xefcdab89, 0x98badcfe, 0x10325476, 0xc3d2e1f0]);
  const w = new Uint32Array(80);
  for (let o = 0; o < v.byteLength; o += 64) {
    for (let i = 0; i < 16; i++) w[i] = v.getUint32(o + i * 4);
    for (let i = 16; i < 80; i++) {
      const x = w[i - 3] ^ w[i - 8] ^ w[i - 14] ^ w[i - 16];
      w[i] = (x << 1) | (x >>> 31);
    }
    let [a, b, c, d, e] = h;
    for (let i = 0; i < 80; i++) {
      const f = i < 20 ? (b & c) | (~b & d) : i < 40 ? b ^ c ^ d : i < 60 ? (b & c) | (b & d) | (c & d) : b ^ c ^ d;
      const k = i < 20 ? 0x5a827999 : i < 40 ? 0x6ed9eba1 : i < 60 ? 0x8f1bbcdc : 0xca62c1d6;
      const t = (((a << 5) | (a >>> 27)) + f + e + k + w[i]) >>> 0;
      e = d;
      d = c;
      c = ((b << 30) | (b >>> 2)) >>> 0;
      b = a;
      a = t;
    }
    h[0] += a;
    h[1] += b;
    h[2] += c;
    h[3] += d;
    h[4] += e;
  }
  return words(h);
}

function words(h: Uint32Array): Uint8Array {
  const out = new Uint8Array(h.length * 4);
  const v = new DataView(out.buffer);
  h.forEach((x, i) => v.setUint32(i * 4, x));
  return out;
}

const PURE: Record<string, (m: Uint8Array) => Uint8Array> = { sha1, sha256 };

/** node:crypto's createHash(alg, options).update(…).digest(encoding), with SHA-1 and SHA-256 of strings done here. */
export function createHash(alg: string, options?: unknown) {
  const chunks: Chunk[] = [];
  return {
    update(data: unknown, encoding?: unknown) {
      chunks.push([data, encoding]);
      return this;
    },
    digest(encoding?: BufferEncoding): any {
      const pure = Object.hasOwn(PURE, alg) ? PURE[alg] : undefined;
      if (pure && options === undefined && chunks.every(([d, e]) => typeof d === 'string' && e === undefined)) {
        const out = Buffer.from(pure(Buffer.concat(chunks.map(([d]) => Buffer.from(d as string, 'utf8')))));
        return encoding === undefined ? out : out.toString(encoding);
      }
      const real = createRequire(import.meta.url)('node:crypto').createHash(alg, options);
      for (const [d, e] of chunks) real.update(d, e);
      return real.digest(encoding);
    },
  };
}
