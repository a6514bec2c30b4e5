// placeholder replaced below
export async function applyFaults(_r: unknown): Promise<void> {
  throw new Error('faults are not implemented yet');
}
