// Constants the schema and normalize share, in a module without zod (normalize is on `vxlab validate`'s quick path).
export const STATIC_ARP_AUTO_NODES = 16;
// sysctls inside vxlab's namespaces (never the host's): network sysctls only, values as sysctl -w takes them
export const SYSCTL_KEY_RE = /^net\.[a-z0-9_]+(\.[a-zA-Z0-9_\/-]+)+$/;
