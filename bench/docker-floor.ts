// The floor under a docker `up`: dockerd's own cost of creating and starting N containers of the node image on one
// internal network with fixed addresses — no testcontainers, no vxlab — measured in the same bench run. The gap between
// this and `up` is vxlab's share (testcontainers, binding namespaces, the overlay apply).
import { docker, LABEL_RUN } from '../harness/runtime/docker/client.ts';
import { ensureNodeImage } from '../harness/runtime/docker/image.ts';
import { pool } from '../harness/util/exec.ts';

/** Create + start `n` containers (concurrency `concurrency`), then remove them and the network. Wall ms of create+start. */
export async function dockerFloor(n: number, runId: string, cidrBase: string, concurrency: number): Promise<number> {
  const { docker: d } = await docker();
  const image = await ensureNodeImage();
  const name = `vx-${runId}-floor`;
  const labels = { [LABEL_RUN]: runId, 'vxlab.bench': 'docker-floor' };
  // the bench's docker topologies use 172.29.0.0/16; the floor takes the same /16 (never at the same time)
  const net = await d.createNetwork({
    Name: name,
    Driver: 'bridge',
    Internal: true,
    IPAM: { Driver: 'default', Config: [{ Subnet: `${cidrBase}.0.0/16`, Gateway: `${cidrBase}.255.254` }] },
    Options: { 'com.docker.network.bridge.name': name.slice(0, 15), 'com.docker.network.bridge.enable_ip_masquerade': 'false' },
    Labels: labels,
  });
  try {
    const t0 = performance.now();
    await pool([...Array(n).keys()], concurrency, async (k) => {
      const c = await d.createContainer({
        Image: image,
        name: `${name}-${k}`,
        Labels: labels,
        HostConfig: { NetworkMode: name },
        NetworkingConfig: { EndpointsConfig: { [name]: { IPAMConfig: { IPv4Address: `${cidrBase}.${Math.floor((k + 2) / 250)}.${((k + 2) % 250) + 1}` } } } },
      });
      await c.start();
    });
    return performance.now() - t0;
  } finally {
    const left = await d.listContainers({ all: true, filters: { label: [`${LABEL_RUN}=${runId}`] } });
    await Promise.all(left.map((c) => d.getContainer(c.Id).remove({ force: true, v: true }).catch(() => {})));
    await net.remove().catch(() => {});
  }
}
