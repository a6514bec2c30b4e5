import { describe, expect, it } from 'vitest';
import { checkIds, suiteNames } from '../../suites/index.ts';
import { CHECK_IDS, SUITE_NAMES } from '../../suites/ids.ts';

describe('suites/ids.ts (the light list validate uses)', () => {
  it('names exactly the registered suites, in order', () => {
    expect([...SUITE_NAMES]).toEqual(suiteNames());
  });
  it('names exactly the registered checks, in order', () => {
    expect([...CHECK_IDS]).toEqual(checkIds());
  });
});
