// Thin koffi bindings to the libc calls the userspace VTEP needs (TUN/TAP, raw/UDP sockets,
// prctl). Linux x86_64 / aarch64 glibc or musl. Nothing here allocates per call except the
// caller's buffers; all functions return the raw libc result and leave errno in koffi.errno().
import koffi, { type LibraryHandle } from 'koffi';

const libc = koffi.load(null as unknown as string) as LibraryHandle;

export const c = {
  open: libc.func('int open(const char *path, int flags, ...)'),
  close: libc.func('int close(int fd)'),
  ioctl: libc.func('int ioctl(int fd, unsigned long req, ...)'),
  read: libc.func('long read(int fd, void *buf, unsigned long n)'),
  write: libc.func('long write(int fd, const void *buf, unsigned long n)'),
  socket: libc.func('int socket(int domain, int type, int protocol)'),
  bind: libc.func('int bind(int fd, const void *addr, unsigned int len)'),
  setsockopt: libc.func('int setsockopt(int fd, int level, int name, const void *val, unsigned int len)'),
  sendto: libc.func('long sendto(int fd, const void *buf, unsigned long n, int flags, const void *addr, unsigned int alen)'),
  recvfrom: libc.func('long recvfrom(int fd, void *buf, unsigned long n, int flags, void *addr, _Inout_ unsigned int *alen)'),
  // msghdr buffers are built by hand (see MsgHdr): pointers inside are raw addresses of Buffers
  /** write/sendto taking a raw address (addressOf(buf) + offset): no Buffer view per packet */
  writeAt: libc.func('long write(int fd, uintptr_t buf, unsigned long n)'),
  sendtoAt: libc.func('long sendto(int fd, uintptr_t buf, unsigned long n, int flags, const void *addr, unsigned int alen)'),
  sendmsg: libc.func('long sendmsg(int fd, void *msg, int flags)'),
  recvmsg: libc.func('long recvmsg(int fd, void *msg, int flags)'),
  recvmmsg: libc.func('int recvmmsg(int fd, void *msgvec, unsigned int vlen, int flags, void *timeout)'),
  poll: libc.func('int poll(void *fds, unsigned long nfds, int timeout)'),
  prctl: libc.func('int prctl(int option, ...)'),
  getppid: libc.func('int getppid(void)'),
  _exit: libc.func('void _exit(int status)'),
  strerror: libc.func('const char *strerror(int errnum)'),
  // the in-process apply of `up` (harness/runtime/netns/inns.ts)
  setns: libc.func('int setns(int fd, int nstype)'),
  ifNameToIndex: libc.func('unsigned int if_nametoindex(const char *name)'),
  // steps create and delete a node's namespaces as `ip netns add|del` does (inns.ts addNetns/delNetns)
  unshare: libc.func('int unshare(int flags)'),
  mount: libc.func('int mount(const char *source, const char *target, const char *fstype, unsigned long flags, const void *data)'),
  umount2: libc.func('int umount2(const char *target, int flags)'),
};

export const errno = (): number => koffi.errno();
export const strerror = (e: number): string => c.strerror(e) as string;

export const O_RDWR = 2;
export const O_NONBLOCK = 0x800;
export const O_CLOEXEC = 0x80000;
export const TUNSETIFF = 0x400454ca;
export const IFF_TAP = 0x0002;
export const IFF_NO_PI = 0x1000;
export const IFF_VNET_HDR = 0x4000;
export const TUNSETOFFLOAD = 0x400454d0;
export const TUN_F_CSUM = 0x01;
export const TUN_F_TSO4 = 0x02;
export const TUN_F_TSO6 = 0x04;
/** struct virtio_net_hdr (no mergeable-buffer field): the TAP's default vnet header size */
export const VNET_HDR_LEN = 10;
export const VIRTIO_NET_HDR_F_NEEDS_CSUM = 1;
export const VIRTIO_NET_HDR_GSO_NONE = 0;
export const VIRTIO_NET_HDR_GSO_TCPV4 = 1;
export const VIRTIO_NET_HDR_GSO_TCPV6 = 4;
export const VIRTIO_NET_HDR_GSO_ECN = 0x80;
export const SOL_UDP = 17;
export const UDP_SEGMENT = 103;
export const UDP_GRO = 104;
export const AF_INET = 2;
export const AF_INET6 = 10;
export const IPPROTO_IPV6 = 41;
export const IPV6_MTU_DISCOVER = 23;
export const IPV6_PMTUDISC_DO = 2;
export const IPV6_V6ONLY = 26;
export const SOCK_DGRAM = 2;
export const SOCK_RAW = 3;
export const SOCK_CLOEXEC = 0x80000;
export const IPPROTO_IP = 0;
export const IPPROTO_UDP = 17;
export const IPPROTO_RAW = 255;
export const SOL_SOCKET = 1;
export const SO_SNDBUF = 7;
export const SO_RCVBUF = 8;
export const SO_SNDBUFFORCE = 32;
export const SO_RCVBUFFORCE = 33;
export const SO_RCVTIMEO = 20;
export const IP_HDRINCL = 3;
export const IP_MTU_DISCOVER = 10;
export const IP_PMTUDISC_DO = 2;
export const PR_SET_PDEATHSIG = 1;
export const SIGKILL = 9;
export const EAGAIN = 11;
export const EINTR = 4;
export const ENOSYS = 38;
export const MSG_WAITFORONE = 0x10000;
export const EMSGSIZE = 90;
export const POLLIN = 1;

export class SysError extends Error {
  constructor(readonly call: string, readonly errno: number) {
    super(`${call}: ${strerror(errno)} (errno ${errno})`);
  }
}

function check(call: string, r: number): number {
  if (r < 0) throw new SysError(call, errno());
  return r;
}

/** Create a non-persistent TAP device (IFF_TAP|IFF_NO_PI). Returns the fd (blocking, close-on-exec). */
export function openTap(name: string): number {
  return openTapFlags(name, IFF_TAP | IFF_NO_PI);
}

export interface TapHandle {
  fd: number;
  /** frames carry a 10-byte virtio_net_hdr in front (IFF_VNET_HDR) */
  vnetHdr: boolean;
  /** TUN_F_* offloads the kernel accepted (0 when none) */
  offloads: number;
  /** why an offload was not enabled, for the log */
  note?: string;
}

/**
 * Create the TAP with IFF_VNET_HDR and ask for checksum + TSO offloads (TUNSETOFFLOAD), so the
 * kernel hands over TCP super-frames (up to 64 KB) with a virtio_net_hdr. Falls back step by step:
 * without TSO (CSUM only, or no offloads with the vnet header kept), then to a plain TAP.
 */
export function openTapOffload(name: string, want = TUN_F_CSUM | TUN_F_TSO4 | TUN_F_TSO6): TapHandle {
  let fd: number;
  try {
    fd = openTapFlags(name, IFF_TAP | IFF_NO_PI | IFF_VNET_HDR);
  } catch (e) {
    return { fd: openTap(name), vnetHdr: false, offloads: 0, note: `IFF_VNET_HDR refused (${(e as Error).message})` };
  }
  for (const flags of [want, want & (TUN_F_CSUM | TUN_F_TSO4), TUN_F_CSUM]) {
    if ((c.ioctl(fd, TUNSETOFFLOAD, 'unsigned long', flags) as number) >= 0) {
      return { fd, vnetHdr: true, offloads: flags, note: flags === want ? undefined : `TUNSETOFFLOAD 0x${want.toString(16)} refused; using 0x${flags.toString(16)}` };
    }
  }
  return { fd, vnetHdr: true, offloads: 0, note: `TUNSETOFFLOAD refused (${strerror(errno())}); no offloads` };
}

function openTapFlags(name: string, flags: number): number {
  if (Buffer.byteLength(name) > 15) throw new Error(`TAP name too long: ${name}`);
  const fd = check('open(/dev/net/tun)', c.open('/dev/net/tun', O_RDWR | O_CLOEXEC) as number);
  const ifr = Buffer.alloc(40);
  ifr.write(name, 0, 'utf8');
  ifr.writeUInt16LE(flags, 16);
  const r = c.ioctl(fd, TUNSETIFF, 'void *', ifr) as number;
  if (r < 0) {
    const e = errno();
    c.close(fd);
    throw new SysError(`ioctl(TUNSETIFF, ${name})`, e);
  }
  return fd;
}

/** setsockopt(int) that reports failure instead of throwing (optional features). */
export function trySetIntOpt(fd: number, level: number, name: number, value: number): boolean {
  const v = Buffer.alloc(4);
  v.writeInt32LE(value, 0);
  return (c.setsockopt(fd, level, name, v, 4) as number) >= 0;
}

/** Raw address of a Buffer's bytes. Only for Buffers from pinned() or larger than 64 bytes (see there). */
export function addressOf(b: Buffer): number {
  return Number(koffi.address(b));
}

// V8 keeps typed arrays of ≤ 64 bytes inside the JS heap, where the GC may move them: their address
// is not stable. Small buffers whose raw address is stored (msghdr, iovec, sockaddr) are carved out
// of one larger, off-heap slab instead.
let slab = Buffer.alloc(0);
let slabUsed = 0;
/** A zeroed Buffer of `size` bytes whose address never changes (8-byte aligned). */
export function pinned(size: number): Buffer {
  const need = (size + 7) & ~7;
  if (slabUsed + need > slab.length) {
    slab = Buffer.alloc(Math.max(4096, need));
    slabUsed = 0;
  }
  const b = slab.subarray(slabUsed, slabUsed + size);
  slabUsed += need;
  return b;
}

export function sockaddrIn(ip: string, port: number): Buffer {
  const b = pinned(16);
  b.writeUInt16LE(AF_INET, 0);
  b.writeUInt16BE(port, 2);
  const p = ip.split('.').map(Number);
  for (let i = 0; i < 4; i++) b[4 + i] = p[i]!;
  return b;
}

export function setIntOpt(fd: number, level: number, name: number, value: number, what: string): void {
  const v = Buffer.alloc(4);
  v.writeInt32LE(value, 0);
  check(`setsockopt(${what})`, c.setsockopt(fd, level, name, v, 4) as number);
}

export function setRcvTimeout(fd: number, ms: number): void {
  const tv = Buffer.alloc(16);
  tv.writeBigInt64LE(BigInt(Math.floor(ms / 1000)), 0);
  tv.writeBigInt64LE(BigInt((ms % 1000) * 1000), 8);
  check('setsockopt(SO_RCVTIMEO)', c.setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, tv, 16) as number);
}

/** sockaddr_in6 for an IPv6 address given as 16 bytes (flowinfo and scope id 0). */
export function sockaddrIn6(addr: Uint8Array, port: number): Buffer {
  const b = pinned(28);
  b.writeUInt16LE(AF_INET6, 0);
  b.writeUInt16BE(port, 2);
  b.set(addr, 8);
  return b;
}

/**
 * UDP socket bound to ip:port, never fragmenting locally: IP_PMTUDISC_DO over IPv4 (DF set), IPV6_PMTUDISC_DO over
 * IPv6 (a datagram larger than the path MTU fails with EMSGSIZE instead of being fragmented). The family follows `ip`;
 * an IPv6 socket is IPV6_V6ONLY (no IPv4-mapped peers).
 */
export function udpSocket(ip: string, port: number, bufBytes = 4 << 20, ip6?: Uint8Array): number {
  const v6 = ip.includes(':');
  const fd = check('socket(UDP)', c.socket(v6 ? AF_INET6 : AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, IPPROTO_UDP) as number);
  if (v6) {
    setIntOpt(fd, IPPROTO_IPV6, IPV6_V6ONLY, 1, 'IPV6_V6ONLY');
    setIntOpt(fd, IPPROTO_IPV6, IPV6_MTU_DISCOVER, IPV6_PMTUDISC_DO, 'IPV6_MTU_DISCOVER');
  } else setIntOpt(fd, IPPROTO_IP, IP_MTU_DISCOVER, IP_PMTUDISC_DO, 'IP_MTU_DISCOVER');
  trySetBuf(fd, bufBytes);
  if (v6 && !ip6) throw new Error(`udpSocket(${ip}): IPv6 needs the address bytes`);
  const sa = v6 ? sockaddrIn6(ip6!, port) : sockaddrIn(ip, port);
  const r = c.bind(fd, sa, v6 ? 28 : 16) as number;
  if (r < 0) {
    const e = errno();
    c.close(fd);
    throw new SysError(`bind(${v6 ? `[${ip}]` : ip}:${port})`, e);
  }
  return fd;
}

/** IPPROTO_RAW socket (implies IP_HDRINCL): we write the whole outer IPv4+UDP header. */
export function rawSocket(bufBytes = 4 << 20): number {
  const fd = check('socket(RAW)', c.socket(AF_INET, SOCK_RAW | SOCK_CLOEXEC, IPPROTO_RAW) as number);
  setIntOpt(fd, IPPROTO_IP, IP_HDRINCL, 1, 'IP_HDRINCL');
  setIntOpt(fd, IPPROTO_IP, IP_MTU_DISCOVER, IP_PMTUDISC_DO, 'IP_MTU_DISCOVER');
  trySetBuf(fd, bufBytes);
  return fd;
}

function trySetBuf(fd: number, bytes: number): void {
  const v = Buffer.alloc(4);
  v.writeInt32LE(bytes, 0);
  // FORCE variants need CAP_NET_ADMIN (we are root); fall back silently to the capped ones.
  if ((c.setsockopt(fd, SOL_SOCKET, SO_SNDBUFFORCE, v, 4) as number) < 0) c.setsockopt(fd, SOL_SOCKET, SO_SNDBUF, v, 4);
  if ((c.setsockopt(fd, SOL_SOCKET, SO_RCVBUFFORCE, v, 4) as number) < 0) c.setsockopt(fd, SOL_SOCKET, SO_RCVBUF, v, 4);
}

/** prctl(PR_SET_PDEATHSIG, sig). */
export function setParentDeathSignal(sig: number): void {
  check('prctl(PR_SET_PDEATHSIG)', c.prctl(PR_SET_PDEATHSIG, 'unsigned long', sig, 'unsigned long', 0, 'unsigned long', 0, 'unsigned long', 0) as number);
}
