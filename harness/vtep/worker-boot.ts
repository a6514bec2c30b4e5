// Start a worker thread that runs a TypeScript module. Node 20 workers do not inherit the
// `--import tsx` loader of the main thread, so the worker first registers tsx's ESM hooks.
import { Worker, type WorkerOptions } from 'node:worker_threads';

export function tsWorker(moduleUrl: URL, opts: WorkerOptions = {}): Worker {
  const api = import.meta.resolve('tsx/esm/api');
  const code = `import(${JSON.stringify(api)}).then((a) => { a.register(); return import(${JSON.stringify(moduleUrl.href)}); })`;
  return new Worker(code, { ...opts, eval: true });
}
