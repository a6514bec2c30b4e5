// DOT → SVG with Graphviz compiled to WebAssembly (@viz-js/viz): the real dot layout engine, bundled in the npm
// package (no browser, no network, no native build, no install script). One instance per process, made on first use.
import type { Viz } from '@viz-js/viz';

let viz: Promise<Viz> | undefined;

export async function dotToSvg(dot: string): Promise<string> {
  viz ??= import('@viz-js/viz').then((m) => m.instance());
  const r = (await viz).render(dot, { format: 'svg' });
  if (r.status !== 'success') throw new Error(`graphviz: ${r.errors.map((e) => e.message).join('; ')}`);
  // drop the XML prolog and DOCTYPE so the SVG can be inlined in HTML as well as written as a file
  return r.output.replace(/^<\?xml[^>]*>\s*/, '').replace(/^<!DOCTYPE[^>]*>\s*/, '');
}
