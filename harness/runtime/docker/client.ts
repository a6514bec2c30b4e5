// The Docker connection, through testcontainers: containers are GenericContainers; label queries and removal use
// the dockerode handle testcontainers holds. Ryuk (its reaper) needs an image pull, so it is off: vxlab reaps by label.
import { existsSync } from 'node:fs';
import type Dockerode from 'dockerode';
import { RuntimeUnavailableError } from '../errors.ts';
import { run } from '../../util/exec.ts';

// must be set before testcontainers looks for its reaper
process.env.TESTCONTAINERS_RYUK_DISABLED = 'true';

export const LABEL_RUN = 'vxlab.run';
export const LABEL_TOPOLOGY = 'vxlab.topology';
export const LABEL_NODE = 'vxlab.node';
export const LABEL_SEGMENT = 'vxlab.segment';

type Tc = typeof import('testcontainers');
let tc: Promise<Tc> | undefined;
/** testcontainers is loaded on first use only: the netns runtime never pays for it */
export function testcontainers(): Promise<Tc> {
  tc ??= import('testcontainers');
  return tc;
}

let client: Promise<{ docker: Dockerode; tc: Tc }> | undefined;

/** The Docker client; a RuntimeUnavailableError (exit 3) that says how to start Docker when it does not answer. */
export function docker(): Promise<{ docker: Dockerode; tc: Tc }> {
  client ??= (async () => {
    const t = await testcontainers();
    try {
      const c = await t.getContainerRuntimeClient();
      const d = (c.container as unknown as { dockerode: Dockerode }).dockerode;
      return { docker: d, tc: t };
    } catch (e: any) {
      client = undefined;
      throw new RuntimeUnavailableError(
        `Docker does not answer (${String(e?.message ?? e).split('\n')[0]}). runtime docker/kind needs a running dockerd: ` +
          `scripts/bootstrap.sh installs Debian's docker.io and starts it (or: apt-get install -y docker.io && dockerd &)`,
      );
    }
  })();
  return client;
}

/** Is Docker configured on this host at all (a socket or DOCKER_HOST)? Lets netns-only hosts skip the client. */
export function dockerConfigured(): boolean {
  return !!process.env.DOCKER_HOST || existsSync('/var/run/docker.sock');
}

export async function containersOf(filters: Record<string, string[]>): Promise<Dockerode.ContainerInfo[]> {
  const { docker: d } = await docker();
  return d.listContainers({ all: true, filters });
}

export async function networksOf(filters: Record<string, string[]>): Promise<Dockerode.NetworkInspectInfo[]> {
  const { docker: d } = await docker();
  return d.listNetworks({ filters });
}

function gone(e: any): boolean {
  return e?.statusCode === 404 || /no such|not found/i.test(String(e?.message));
}

/** Remove containers (SIGKILL, volumes too) and then networks; 404s are fine. Returns what could not be removed. */
export async function removeAll(containerIds: string[], networkIds: string[]): Promise<string[]> {
  const { docker: d } = await docker();
  const left: string[] = [];
  await Promise.all(
    containerIds.map(async (id) => {
      try {
        await d.getContainer(id).remove({ force: true, v: true });
      } catch (e) {
        if (!gone(e)) left.push(`container ${id}: ${(e as Error).message}`);
      }
    }),
  );
  for (const id of networkIds) {
    try {
      await d.getNetwork(id).remove();
    } catch (e) {
      if (!gone(e)) left.push(`network ${id}: ${(e as Error).message}`);
    }
  }
  return left;
}

/** ifindexes of the root namespace's links enslaved to these bridges (the host side of the containers' eth0) — read only */
export async function linksOnBridges(bridges: string[]): Promise<number[]> {
  if (!bridges.length) return [];
  const r = await run(['ip', '-j', 'link', 'show'], { reject: false });
  const links = (JSON.parse(r.stdout || '[]') as { ifindex: number; master?: string }[]);
  return links.filter((l) => l.master && bridges.includes(l.master)).map((l) => l.ifindex);
}

/**
 * Wait (bounded) until these root-namespace links are gone. Docker returns from removing a container before the kernel
 * has destroyed its network namespace (that happens asynchronously), and with it the host side of its veth.
 */
export async function waitLinksGone(ifindexes: number[], timeoutMs = 20_000): Promise<number[]> {
  if (!ifindexes.length) return [];
  const deadline = Date.now() + timeoutMs;
  let left = ifindexes;
  for (;;) {
    const r = await run(['ip', '-j', 'link', 'show'], { reject: false });
    const present = new Set((JSON.parse(r.stdout || '[]') as { ifindex: number }[]).map((l) => l.ifindex));
    left = left.filter((i) => present.has(i));
    if (!left.length || Date.now() > deadline) return left;
    await new Promise((res) => setTimeout(res, 50));
  }
}

export function bridgeOf(n: Dockerode.NetworkInspectInfo): string | undefined {
  return n.Options?.['com.docker.network.bridge.name'];
}
