// Integration tests need root and the real kernel. In CI (CI=true) they must run: missing root is a failure, not a skip.
export const isRoot = process.getuid?.() === 0;

if (!isRoot && process.env.CI === 'true') {
  throw new Error('integration tests must run as root in CI (CI=true): they create network namespaces, veths and vxlan devices');
}

export const needsRoot = !isRoot;
