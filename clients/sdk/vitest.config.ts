import { defineConfig } from "vitest/config";

// Each file starts real gonghui nodes; one file at a time keeps two cores from thrashing.
export default defineConfig({
  test: {
    include: ["test/**/*.test.ts"],
    fileParallelism: false,
    testTimeout: 120_000,
    hookTimeout: 60_000,
  },
});
