// Reading a topology file (bounded, never blocking): shared by the loader (load.ts) and `vxlab validate`'s quick
// path (harness/cli/fast-validate.ts), which must not load yaml or zod.
import { closeSync, constants as fsc, fstatSync, openSync, readSync, type Stats } from 'node:fs';

/**
 * Topology files (and files they extend) larger than this are refused before they are parsed. A 4,096-node file
 * with every per-node key written out is under half of it; YAML parsing costs about a second per MiB.
 */
export const MAX_FILE_BYTES = 1024 * 1024;
/** At most this many nodes (counted in the YAML before anything else is built). */
export const MAX_NODES = 4096;
/** YAML aliases may not expand the document beyond this many nodes (alias bombs). */
export const MAX_EXPANDED_YAML_NODES = 200_000;

function kindOf(st: Stats): string {
  if (st.isDirectory()) return 'a directory';
  if (st.isCharacterDevice()) return 'a character device';
  if (st.isBlockDevice()) return 'a block device';
  if (st.isFIFO()) return 'a FIFO';
  if (st.isSocket()) return 'a socket';
  return 'not a regular file';
}

/**
 * Read a bounded regular file: directories, devices (/dev/zero), FIFOs and sockets are refused without blocking,
 * and so is anything over `max` bytes. Throws Error with a one-line reason (the caller adds the location).
 */
export function readBoundedFile(file: string, max = MAX_FILE_BYTES): string {
  let fd: number;
  try {
    // O_NONBLOCK: opening a FIFO must not wait for a writer
    fd = openSync(file, fsc.O_RDONLY | fsc.O_NONBLOCK);
  } catch (e: any) {
    throw new Error(e.code === 'ENOENT' ? 'no such file' : e.code === 'EACCES' ? 'permission denied' : (e.code ?? e.message));
  }
  try {
    const st = fstatSync(fd);
    if (!st.isFile()) throw new Error(`${kindOf(st)}, not a regular file`);
    if (st.size > max) throw new Error(`${st.size} bytes; at most ${max} bytes (${max / 1024 / 1024} MiB) are accepted`);
    const buf = Buffer.alloc(Math.min(st.size, max) + 1);
    let n = 0;
    for (;;) {
      const r = readSync(fd, buf, n, buf.length - n, null);
      if (r <= 0) break;
      n += r;
      if (n > max) throw new Error(`more than ${max} bytes; at most ${max} bytes (${max / 1024 / 1024} MiB) are accepted`);
      if (n === buf.length) break;
    }
    return buf.subarray(0, n).toString('utf8');
  } finally {
    closeSync(fd);
  }
}
