// Preflight: host tools (with the Debian packages that provide them) and root.
import { accessSync, constants } from 'node:fs';
import { delimiter, join } from 'node:path';
import { PreflightError } from './errors.ts';

export function requireRoot(): void {
  if (process.getuid?.() !== 0) {
    throw new PreflightError('vxlab needs root: it creates network namespaces, veths and vxlan devices (run it with sudo).');
  }
}

export const TOOLS: Record<string, string> = {
  ip: 'iproute2',
  bridge: 'iproute2',
  tcpdump: 'tcpdump',
  ping: 'iputils-ping',
  nft: 'nftables',
  fping: 'fping',
  sysctl: 'procps',
  ethtool: 'ethtool',
};

export function which(bin: string): string | undefined {
  const dirs = (process.env.PATH ?? '').split(delimiter).concat(['/usr/sbin', '/sbin', '/usr/bin', '/bin']);
  for (const d of dirs) {
    try {
      accessSync(join(d, bin), constants.X_OK);
      return join(d, bin);
    } catch {}
  }
  return undefined;
}

export function missingTools(tools = Object.keys(TOOLS)): string[] {
  return tools.filter((t) => !which(t));
}

export function preflight(tools = Object.keys(TOOLS)): void {
  requireRoot();
  const miss = missingTools(tools);
  if (miss.length) {
    const pkgs = [...new Set(miss.map((t) => TOOLS[t] ?? t))];
    throw new PreflightError(`missing host tools: ${miss.join(', ')}. Install them with: apt-get install -y ${pkgs.join(' ')}`);
  }
}
