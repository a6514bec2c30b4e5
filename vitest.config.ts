import { defineConfig } from 'vitest/config';
export default defineConfig({
  test: {
    include: ['test/**/*.test.ts'],
    // compile dist/ first if it is older than the sources: tests spawn bin/vxlab.js, which runs dist/
    globalSetup: ['test/global-setup.ts'],
    testTimeout: 120_000,
    hookTimeout: 120_000,
    // integration tests share the kernel; run files one at a time so timings and captures stay sane
    fileParallelism: false,
  },
});
