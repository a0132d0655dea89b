import js from "@eslint/js";
import tseslint from "typescript-eslint";

export default tseslint.config(
  { ignores: ["dist/", "node_modules/", "deploy/", "coverage/", ".outrigger/", "bench/results/"] },
  js.configs.recommended,
  ...tseslint.configs.recommended,
  {
    rules: {
      "@typescript-eslint/no-unused-vars": ["error", { argsIgnorePattern: "^_", varsIgnorePattern: "^_" }],
      "@typescript-eslint/consistent-type-imports": "error",
    },
  },
  // The processes (controller, injector, sentry) share only src/sidecar (the sidecar contract), src/shared and src/apis:
  // none imports another, and the shared layers import neither. Tests that check the two
  // against each other live under test/contract.
  ...[
    { files: ["src/controller/**"], forbidden: ["injector", "sentry"] },
    { files: ["src/injector/**"], forbidden: ["controller", "sentry"] },
    { files: ["src/sentry/**"], forbidden: ["controller", "injector"] },
    {
      files: ["src/sidecar/**", "src/shared/**", "src/apis/**"],
      forbidden: ["controller", "injector", "sentry"],
    },
  ].map(({ files, forbidden }) => ({
    files,
    rules: {
      "no-restricted-imports": [
        "error",
        {
          patterns: forbidden.map((dir) => ({
            regex: `(^|/)${dir}/`,
            message: `src/${dir} is another process; share code through src/sidecar, src/shared or src/apis.`,
          })),
        },
      ],
    },
  })),
);
