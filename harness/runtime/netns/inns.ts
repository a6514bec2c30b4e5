// The in-process path of `up`: the main thread enters a node's network namespace with setns(2) (koffi), does its
// work synchronously — sysctl writes under /proc/sys/net (which follows the calling thread's namespace) and the
// FDB entries as batched rtnetlink requests on a socket opened in there — and returns to its own namespace before
// any other JavaScript runs. No process per namespace for these two ops; what runs is exactly the plan's lines.
// If returning fails the process cannot safely continue (later work would land in a node's namespace): it exits.
import koffi, { type LibraryHandle } from 'koffi';
import { writeFileSync } from 'node:fs';
import { fdbAddMessage, parseAcks, sysctlPath, type FdbAdd } from './nl.ts';

const CLONE_NEWNET = 0x40000000;
const O_RDONLY = 0;
const O_CLOEXEC = 0x80000;
const AF_NETLINK = 16;
const SOCK_RAW = 3;
const SOCK_CLOEXEC = 0x80000;
const NETLINK_ROUTE = 0;

type Lib = {
      open: (p: string, f: number) => number;
      close: (fd: number) => number;
      setns: (fd: number, t: number) => number;
      socket: (d: number, t: number, p: number) => number;
      write: (fd: number, b: Buffer, n: number) => number;
      read: (fd: number, b: Buffer, n: number) => number;
      ifNameToIndex: (n: string) => number;
      strerror: (e: number) => string;
};
let lib: Lib | undefined;
let home = -1;

function ffi() {
  if (lib) return lib;
  const libc = koffi.load(null as unknown as string) as LibraryHandle;
  lib = {
    open: libc.func('int open(const char *path, int flags)'),
    close: libc.func('int close(int fd)'),
    setns: libc.func('int setns(int fd, int nstype)'),
    socket: libc.func('int socket(int domain, int type, int protocol)'),
    write: libc.func('long write(int fd, const void *buf, unsigned long n)'),
    read: libc.func('long read(int fd, void *buf, unsigned long n)'),
    ifNameToIndex: libc.func('unsigned int if_nametoindex(const char *name)'),
    strerror: libc.func('const char *strerror(int errnum)'),
  } as unknown as Lib;
  // the namespace this thread is in now: where every withNetns returns to
  home = lib!.open('/proc/thread-self/ns/net', O_RDONLY | O_CLOEXEC);
  if (home < 0) throw new Error(`open /proc/thread-self/ns/net: ${lib!.strerror(koffi.errno())}`);
  return lib!;
}

export class InNsError extends Error {
  readonly code = 'VXLAB_COMMAND_FAILED';
}

/** Run `fn` synchronously with this thread inside /var/run/netns/NS. */
export function withNetns<T>(ns: string, fn: () => T): T {
  const l = ffi();
  const fd = l.open(`/var/run/netns/${ns}`, O_RDONLY | O_CLOEXEC);
  if (fd < 0) throw new InNsError(`netns ${ns}: open: ${l.strerror(koffi.errno())}`);
  try {
    if (l.setns(fd, CLONE_NEWNET) !== 0) throw new InNsError(`netns ${ns}: setns: ${l.strerror(koffi.errno())}`);
  } finally {
    l.close(fd);
  }
  try {
    return fn();
  } finally {
    if (l.setns(home, CLONE_NEWNET) !== 0) {
      process.stderr.write(`vxlab: could not return from netns ${ns} to its own network namespace (${l.strerror(koffi.errno())}); exiting\n`);
      process.exit(70);
    }
  }
}

/** `sysctl -qw k=v …` inside NS: each written to /proc/sys/net/… from inside the namespace. */
export function writeSysctls(ns: string, settings: Record<string, string>): void {
  const paths = Object.entries(settings).map(([k, v]) => [sysctlPath(k), v, k] as const);
  withNetns(ns, () => {
    for (const [p, v, k] of paths) {
      try {
        writeFileSync(p, v);
      } catch (e) {
        throw new InNsError(`netns ${ns}: sysctl ${k}=${v}: ${(e as Error).message}`);
      }
    }
  });
}

// Acks queue in the socket's receive buffer until read, and each is a whole skb (~1 KB of truesize against the
// 208 KB default rcvbuf): 700 requests in one send overflowed it (ENOBUFS at 300 nodes). 64 per send stays far below.
const BATCH_MSGS = 64;

/** `bridge fdb add … self permanent` lines inside NS: RTM_NEWNEIGH requests, batched per send, every ack checked. */
export function addFdb(ns: string, entries: FdbAdd[]): void {
  if (!entries.length) return;
  withNetns(ns, () => {
    const l = ffi();
    const sock = l.socket(AF_NETLINK, SOCK_RAW | SOCK_CLOEXEC, NETLINK_ROUTE);
    if (sock < 0) throw new InNsError(`netns ${ns}: netlink socket: ${l.strerror(koffi.errno())}`);
    try {
      const index = new Map<string, number>();
      const rbuf = Buffer.alloc(256 * 1024);
      let i = 0;
      while (i < entries.length) {
        const msgs: Buffer[] = [];
        const first = i;
        while (i < entries.length && i - first < BATCH_MSGS) {
          const e = entries[i]!;
          let ix = index.get(e.dev);
          if (ix === undefined) {
            ix = l.ifNameToIndex(e.dev);
            if (!ix) throw new InNsError(`netns ${ns}: fdb add ${e.mac} dev ${e.dev}: no such device`);
            index.set(e.dev, ix);
          }
          const m = fdbAddMessage(e, ix, i + 1);
          msgs.push(m);
          i++;
        }
        const out = Buffer.concat(msgs);
        if (l.write(sock, out, out.length) !== out.length) throw new InNsError(`netns ${ns}: netlink send: ${l.strerror(koffi.errno())}`);
        const pending = new Set<number>();
        for (let s = first + 1; s <= i; s++) pending.add(s);
        while (pending.size) {
          const n = l.read(sock, rbuf, rbuf.length);
          if (n <= 0) throw new InNsError(`netns ${ns}: netlink recv: ${l.strerror(koffi.errno())}`);
          for (const a of parseAcks(rbuf, n)) {
            if (!pending.delete(a.seq)) continue;
            if (a.errno) {
              const e = entries[a.seq - 1]!;
              throw new InNsError(`netns ${ns}: fdb add ${e.mac} dev ${e.dev} dst ${e.dst} self permanent: RTNETLINK answers: ${l.strerror(a.errno)}`);
            }
          }
        }
      }
    } finally {
      l.close(sock);
    }
  });
}
