// The in-process path of `up` and of steps: the main thread enters a node's network namespace with setns(2) (koffi),
// does its work synchronously — sysctl writes under /proc/sys/net (which follows the calling thread's namespace);
// FDB entries, neighbours and routes as batched rtnetlink requests on a socket opened in there — and returns to its
// own namespace before any other JavaScript runs. No process per namespace for these; what runs is exactly the
// plan's lines. If returning fails the process cannot safely continue (later work would land in a node's
// namespace): it exits.
import { c, errno, O_CLOEXEC, strerror } from '../../vtep/ffi.ts';
import { closeSync, mkdirSync, openSync, unlinkSync, writeFileSync } from 'node:fs';
import { entryDev, entryLine, errnoName, nlMessage, parseAcks, requestName, sysctlPath, type FdbAdd, type NlEntry } from './nl.ts';
import { AF_NETLINK, NETLINK_ROUTE, SOCK_CLOEXEC, SOCK_RAW } from './nl-const.ts';

const CLONE_NEWNET = 0x40000000;
const O_RDONLY = 0;

let home = -1;

/** The libc bindings (harness/vtep/ffi.ts), after noting the namespace this thread is in now: where every withNetns returns to. */
function ffi(): typeof c {
  if (home >= 0) return c;
  home = c.open('/proc/thread-self/ns/net', O_RDONLY | O_CLOEXEC);
  if (home < 0) throw new Error(`open /proc/thread-self/ns/net: ${strerror(errno())}`);
  return c;
}

export class InNsError extends Error {
  readonly code = 'VXLAB_COMMAND_FAILED';
}

/** Run `fn` synchronously with this thread inside /var/run/netns/NS. */
export function withNetns<T>(ns: string, fn: () => T): T {
  const l = ffi();
  const fd = l.open(`/var/run/netns/${ns}`, O_RDONLY | O_CLOEXEC);
  if (fd < 0) throw new InNsError(`netns ${ns}: open: ${strerror(errno())}`);
  try {
    if (l.setns(fd, CLONE_NEWNET) !== 0) throw new InNsError(`netns ${ns}: setns: ${strerror(errno())}`);
  } finally {
    l.close(fd);
  }
  try {
    return fn();
  } finally {
    if (l.setns(home, CLONE_NEWNET) !== 0) {
      process.stderr.write(`vxlab: could not return from netns ${ns} to its own network namespace (${strerror(errno())}); exiting\n`);
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
/** one receive buffer for every call (the calls are synchronous) */
let recvBuf: Buffer | undefined;

/**
 * Neighbours, FDB entries and routes (iproute2 lines parsed by nl.ts) inside NS: one netlink socket opened in there,
 * requests sent in batches of up to 64, every ack checked. The first failure throws, naming the namespace, the entry
 * as its iproute2 line, the request and the errno, e.g. `netns vx-…-node3: route add 10.244.2.0/24 via 10.244.2.0
 * dev flannel.1 onlink: RTNETLINK answers: File exists (RTM_NEWROUTE: EEXIST)`. Like `ip -batch`, nothing after the
 * failing entry's batch is sent (entries after it within the same batch of 64 were already sent).
 */
export function applyEntries(ns: string, entries: NlEntry[]): void {
  if (!entries.length) return;
  withNetns(ns, () => {
    const l = ffi();
    const sock = l.socket(AF_NETLINK, SOCK_RAW | SOCK_CLOEXEC, NETLINK_ROUTE);
    if (sock < 0) throw new InNsError(`netns ${ns}: netlink socket: ${strerror(errno())}`);
    try {
      const index = new Map<string, number>();
      const rbuf = (recvBuf ??= Buffer.alloc(8192)); // netlink hands one answer per read; koffi's per-call cost grows with the buffer
      let i = 0;
      while (i < entries.length) {
        const msgs: Buffer[] = [];
        const first = i;
        while (i < entries.length && i - first < BATCH_MSGS) {
          const e = entries[i]!;
          const dev = entryDev(e);
          let ix: number | undefined;
          if (dev !== undefined) {
            ix = index.get(dev);
            if (ix === undefined) {
              ix = l.ifNameToIndex(dev) as number;
              if (!ix) throw new InNsError(`netns ${ns}: ${entryLine(e)}: Cannot find device "${dev}"`);
              index.set(dev, ix);
            }
          }
          msgs.push(nlMessage(e, ix, i + 1));
          i++;
        }
        const out = Buffer.concat(msgs);
        if (l.write(sock, out, out.length) !== out.length) throw new InNsError(`netns ${ns}: netlink send: ${strerror(errno())}`);
        const pending = new Set<number>();
        for (let s = first + 1; s <= i; s++) pending.add(s);
        let failed: { seq: number; errno: number } | undefined;
        while (pending.size) {
          const n = l.read(sock, rbuf, rbuf.length);
          if (n <= 0) throw new InNsError(`netns ${ns}: netlink recv: ${strerror(errno())}`);
          for (const a of parseAcks(rbuf, n)) {
            if (!pending.delete(a.seq)) continue;
            if (a.errno && (!failed || a.seq < failed.seq)) failed = a;
          }
        }
        if (failed) {
          const e = entries[failed.seq - 1]!;
          throw new InNsError(`netns ${ns}: ${entryLine(e)}: RTNETLINK answers: ${strerror(failed.errno)} (${requestName(e)}: ${errnoName(failed.errno)})`);
        }
      }
    } finally {
      l.close(sock);
    }
  });
}

/** `bridge fdb add … self permanent` lines inside NS (applyEntries of FDB entries). */
export function addFdb(ns: string, entries: FdbAdd[]): void {
  applyEntries(ns, entries.map((e) => ({ kind: 'fdb', op: 'add', ...e })));
}

// ---------------------------------------------------------------- namespaces, as `ip netns add|del` makes them

const NETNS_RUN_DIR = '/var/run/netns';
const MS_BIND = 0x1000;
const MS_REC = 0x4000;
const MS_SHARED = 1 << 20;
const MNT_DETACH = 2;
const EINVAL = 22;
const ENOENT = 2;
let runDirShared = false;

/** /var/run/netns exists and is a shared mount point (ip's create_netns_dir and its MS_SHARED loop). */
function netnsRunDir(l: typeof c): void {
  if (runDirShared) return;
  mkdirSync(NETNS_RUN_DIR, { recursive: true, mode: 0o755 });
  if (l.mount('', NETNS_RUN_DIR, 'none', MS_SHARED | MS_REC, null) !== 0) {
    const e = errno();
    if (e !== EINVAL) throw new InNsError(`mount --make-rshared ${NETNS_RUN_DIR}: ${strerror(e)}`);
    // not a mount point yet: make it one, then shared
    if (l.mount(NETNS_RUN_DIR, NETNS_RUN_DIR, 'none', MS_BIND | MS_REC, null) !== 0) throw new InNsError(`mount --rbind ${NETNS_RUN_DIR}: ${strerror(errno())}`);
    if (l.mount('', NETNS_RUN_DIR, 'none', MS_SHARED | MS_REC, null) !== 0) throw new InNsError(`mount --make-rshared ${NETNS_RUN_DIR}: ${strerror(errno())}`);
  }
  runDirShared = true;
}

/**
 * `ip netns add NAME` for each name, from this process: the file /var/run/netns/NAME (O_EXCL: an existing name is an
 * error, as ip's), a new network namespace for this thread (unshare), bind-mounted onto the file; then back home.
 */
export function addNetns(names: string[]): void {
  if (!names.length) return;
  const l = ffi();
  netnsRunDir(l);
  for (const name of names) {
    const path = `${NETNS_RUN_DIR}/${name}`;
    try {
      closeSync(openSync(path, 'wx', 0));
    } catch (e) {
      throw new InNsError(`netns add ${name}: Cannot create namespace file "${path}": ${(e as Error).message}`);
    }
    let err: string | undefined;
    if (l.unshare(CLONE_NEWNET) !== 0) err = `Failed to create a new network namespace "${name}": ${strerror(errno())}`;
    else {
      if (l.mount('/proc/thread-self/ns/net', path, 'none', MS_BIND, null) !== 0) err = `Bind /proc/thread-self/ns/net -> ${path} failed: ${strerror(errno())}`;
      if (l.setns(home, CLONE_NEWNET) !== 0) {
        process.stderr.write(`vxlab: could not return from the new netns ${name} to its own network namespace (${strerror(errno())}); exiting\n`);
        process.exit(70);
      }
    }
    if (err) {
      delNetns([name]);
      throw new InNsError(`netns add ${name}: ${err}`);
    }
  }
}

/**
 * `ip netns del NAME` for each name, from this process: detach the bind mount and remove the file. As with ip, the
 * kernel then tears the namespace down (its devices, the veth peers in other namespaces) asynchronously: whoever
 * depends on that (a node re-added under the same name) waits for it (devGone). A name not there is skipped.
 */
export function delNetns(names: string[]): void {
  const l = ffi();
  for (const name of names) {
    const path = `${NETNS_RUN_DIR}/${name}`;
    if (l.umount2(path, MNT_DETACH) !== 0) {
      const e = errno();
      if (e !== EINVAL && e !== ENOENT) throw new InNsError(`netns del ${name}: umount ${path}: ${strerror(e)}`);
    }
    try {
      unlinkSync(path);
    } catch (e) {
      if ((e as NodeJS.ErrnoException).code !== 'ENOENT') throw new InNsError(`netns del ${name}: ${(e as Error).message}`);
    }
  }
}

/** Whether device DEV exists in NS (if_nametoindex inside it). */
export function devExists(ns: string, dev: string): boolean {
  return withNetns(ns, () => ffi().ifNameToIndex(dev) !== 0);
}
