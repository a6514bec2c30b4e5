// One cheap probe before a DF boundary search: does the target answer small pings at all?
import { reachable } from '../probe/fping.ts';

/**
 * Undefined if `dst` answers a small ping from `ns`; else why not, in words. Three echo requests, 400 ms each:
 * a boundary search on a target that answers nothing would only wait out its own timeouts and call it a black hole.
 */
export async function nodeUnreachable(ns: string, dst: string): Promise<string | undefined> {
  const alive = await reachable(ns, [dst], { retries: 2, timeoutMs: 400 });
  return alive.has(dst) ? undefined : `${dst} does not answer small pings either (3 echo requests, 400 ms each)`;
}
