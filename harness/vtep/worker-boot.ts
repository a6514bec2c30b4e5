// Start a worker thread running a module: compiled JavaScript (dist/) directly; TypeScript sources through tsx.
// Node 20 workers do not inherit the `--import tsx` loader of the main thread, so a .ts worker first registers
// tsx's ESM hooks.
import { Worker, type WorkerOptions } from 'node:worker_threads';

export function tsWorker(moduleUrl: URL, opts: WorkerOptions = {}): Worker {
  if (!moduleUrl.pathname.endsWith('.ts')) return new Worker(moduleUrl, opts);
  const api = import.meta.resolve('tsx/esm/api');
  const code = `import(${JSON.stringify(api)}).then((a) => { a.register(); return import(${JSON.stringify(moduleUrl.href)}); })`;
  return new Worker(code, { ...opts, eval: true });
}
