import { defineConfig } from 'vitest/config';
export default defineConfig({
  test: {
    include: ['test/**/*.test.ts'],
    testTimeout: 120_000,
    hookTimeout: 120_000,
    // integration tests share the kernel; run files one at a time so timings and captures stay sane
    fileParallelism: false,
  },
});
