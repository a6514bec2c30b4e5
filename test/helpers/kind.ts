// The kind stand-in (test/fixtures/kind/kind): kind cannot create clusters here (no node image), so the kind runtime's
// tests put a stand-in first on PATH that runs kind's node containers from vxlab's own local image.
import { resolve } from 'node:path';
import { ensureNodeImage } from '../../harness/runtime/docker/image.ts';

export const KIND_STANDIN = resolve(import.meta.dirname, '../fixtures/kind');

/** Run `fn` with the stand-in first on PATH and its node image set; both restored after. */
export async function withStandin<T>(fn: () => Promise<T>): Promise<T> {
  const saved = { PATH: process.env.PATH, IMG: process.env.VXLAB_KIND_STANDIN_IMAGE };
  process.env.PATH = `${KIND_STANDIN}:${process.env.PATH}`;
  process.env.VXLAB_KIND_STANDIN_IMAGE = await ensureNodeImage();
  try {
    return await fn();
  } finally {
    process.env.PATH = saved.PATH;
    if (saved.IMG === undefined) delete process.env.VXLAB_KIND_STANDIN_IMAGE;
    else process.env.VXLAB_KIND_STANDIN_IMAGE = saved.IMG;
  }
}
