// steps: what happens to a topology after up — nodes restart, leave, join, change address — and checks in between.
import type { ExpectResult } from '../topology/schema.ts';
import type { ResolvedNode } from '../topology/resolved.ts';

export type StepAction = 'restart-node' | 'remove-node' | 'add-node' | 'change-node-ip';

/** One step, resolved: every node an action names exists at that point, an added node is fully resolved. */
export type ResolvedStep =
  | { n: number; action: 'restart-node'; node: string; newMac?: string }
  | { n: number; action: 'remove-node'; node: string }
  | { n: number; action: 'add-node'; node: ResolvedNode }
  | { n: number; action: 'change-node-ip'; node: string; ip: string }
  | { n: number; action: 'check'; check: string[]; withinMs?: number; within?: string; expect: Record<string, ExpectResult> };

/**
 * How vxlab's control plane reconciles a step. Every flag true = what flannel and felix do (replace, and delete what
 * belonged to a departed peer); a false flag stages a real bug.
 */
export interface ResolvedControl {
  removeDepartedFdb: boolean;
  removeDepartedRoutes: boolean;
  removeDepartedNeighbours: boolean;
  updateChangedMac: boolean;
  updateChangedIp: boolean;
}

export const DEFAULT_CONTROL: ResolvedControl = {
  removeDepartedFdb: true,
  removeDepartedRoutes: true,
  removeDepartedNeighbours: true,
  updateChangedMac: true,
  updateChangedIp: true,
};

/** What the state file records per step: written before the step changes anything, updated once it is applied. */
export interface StepRecord {
  n: number;
  action: StepAction | 'check';
  node?: string;
  status: 'applying' | 'applied';
  /** namespaces the step created (add-node) or removed (remove-node) */
  created?: string[];
  removed?: string[];
}

/** The id prefix of a step's results: steps/3/routes/fdb */
export const stepId = (n: number, rest: string) => `steps/${n}/${rest}`;

export function parseDuration(s: string | number): number {
  if (typeof s === 'number') return Math.round(s * 1000);
  const m = /^(\d+(?:\.\d+)?)(ms|s)$/.exec(s)!;
  return Math.round(Number(m[1]) * (m[2] === 's' ? 1000 : 1));
}
