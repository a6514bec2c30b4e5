// Constants the schema and normalize share, in a module without zod (normalize is on `vxlab validate`'s quick path).
export const STATIC_ARP_AUTO_NODES = 16;
/**
 * overlay.staticPodNeighbours auto: on when the pods' dynamic neighbour entries of one family would pass this many —
 * half the kernel's default gc_thresh3 (1024), which counts every namespace's dynamic entries together.
 */
export const STATIC_POD_NEIGH_AUTO_ENTRIES = 512;
// sysctls inside vxlab's namespaces (never the host's): network sysctls only, values as sysctl -w takes them
export const SYSCTL_KEY_RE = /^net\.[a-z0-9_]+(\.[a-zA-Z0-9_\/-]+)+$/;
