// The default node image, built locally without any registry: FROM scratch plus Debian's static busybox, which just
// waits (and offers sh, ip, ping … for `vxlab exec --container`). vxlab configures nodes from outside, through their
// network namespace, with the host's tools. Tagged with a hash of its content and reused.
import { createHash } from 'node:crypto';
import { closeSync, copyFileSync, existsSync, mkdtempSync, openSync, readFileSync, readSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { RuntimeUnavailableError } from '../errors.ts';
import { docker } from './client.ts';

export const BUSYBOX = process.env.VXLAB_BUSYBOX ?? '/bin/busybox';
export const NODE_IMAGE_REPO = 'vxlab-node';

const DOCKERFILE = `FROM scratch
COPY busybox /bin/busybox
RUN ["/bin/busybox", "--install", "-s", "/bin"]
LABEL vxlab.node-image="1"
ENTRYPOINT ["/bin/busybox", "sleep", "2147483647"]
`;

/** true when the ELF file has no PT_INTERP program header (statically linked) */
export function isStaticElf(file: string): boolean {
  const fd = openSync(file, 'r');
  try {
    const b = Buffer.alloc(4096);
    readSync(fd, b, 0, b.length, 0);
    if (b.readUInt32BE(0) !== 0x7f454c46 || b[4] !== 2) return false; // ELF64 only
    const phoff = Number(b.readBigUInt64LE(0x20));
    const phentsize = b.readUInt16LE(0x36);
    const phnum = b.readUInt16LE(0x38);
    for (let i = 0; i < phnum; i++) {
      const o = phoff + i * phentsize;
      if (o + 4 > b.length) break;
      if (b.readUInt32LE(o) === 3) return false; // PT_INTERP
    }
    return true;
  } finally {
    closeSync(fd);
  }
}

export function nodeImageTag(): string {
  if (!existsSync(BUSYBOX) || !isStaticElf(BUSYBOX)) {
    throw new RuntimeUnavailableError(`the default node image needs a static busybox at ${BUSYBOX}: apt-get install -y busybox-static (scripts/bootstrap.sh does)`);
  }
  const h = createHash('sha256').update(DOCKERFILE).update(readFileSync(BUSYBOX)).digest('hex').slice(0, 12);
  return `${NODE_IMAGE_REPO}:${h}`;
}

let building: Promise<string> | undefined;

/** The default node image's tag; built on first use (about a second), then reused. */
export function ensureNodeImage(): Promise<string> {
  building ??= (async () => {
    const tag = nodeImageTag();
    const { docker: d, tc } = await docker();
    try {
      await d.getImage(tag).inspect();
      return tag;
    } catch {}
    const dir = mkdtempSync(join(tmpdir(), 'vxlab-node-image-'));
    try {
      copyFileSync(BUSYBOX, join(dir, 'busybox'));
      writeFileSync(join(dir, 'Dockerfile'), DOCKERFILE);
      await tc.GenericContainer.fromDockerfile(dir).build(tag, { deleteOnExit: false });
      return tag;
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  })();
  building.catch(() => (building = undefined));
  return building;
}
