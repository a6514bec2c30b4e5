// Link MTUs read in-process (#16): the calling thread enters the namespace with setns (the netns runtime's
// withNetns), opens a datagram socket there and asks SIOCGIFMTU per device — what `ip link show DEV` prints as mtu,
// without a process per namespace or a dump of every table (mtu/vtep-mtu and mtu/pod-mtu need the MTUs alone).
// A device that does not exist maps to undefined.
import { c, errno, strerror, O_CLOEXEC } from '../harness/vtep/ffi.ts';
import { withNetns } from '../harness/runtime/netns/inns.ts';

const AF_INET = 2;
const AF_INET6 = 10;
const SOCK_DGRAM = 2;
const SIOCGIFMTU = 0x8921;

export function readMtusIn(ns: string, devs: string[]): Record<string, number | undefined> {
  return withNetns(ns, () => {
    // an IPv6-only namespace may have no IPv4 (the socket family does not matter to SIOCGIFMTU)
    let fd = c.socket(AF_INET, SOCK_DGRAM | O_CLOEXEC, 0) as number;
    if (fd < 0) fd = c.socket(AF_INET6, SOCK_DGRAM | O_CLOEXEC, 0) as number;
    if (fd < 0) throw new Error(`netns ${ns}: socket for SIOCGIFMTU: ${strerror(errno())}`);
    try {
      const out: Record<string, number | undefined> = {};
      const ifr = Buffer.alloc(40);
      for (const d of devs) {
        ifr.fill(0);
        ifr.write(d, 0, 15, 'utf8');
        out[d] = (c.ioctl(fd, SIOCGIFMTU, 'void *', ifr) as number) < 0 ? undefined : ifr.readInt32LE(16);
      }
      return out;
    } finally {
      c.close(fd);
    }
  });
}
