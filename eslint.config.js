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
  // The two processes share only src/sidecar (the sidecar contract), src/shared and src/apis:
  // neither imports the other, and the shared layers import neither. Tests that check the two
  // against each other live under test/contract.
  ...[
    { files: ["src/controller/**"], forbidden: ["injector"] },
    { files: ["src/injector/**"], forbidden: ["controller"] },
    { files: ["src/sidecar/**", "src/shared/**", "src/apis/**"], forbidden: ["controller", "injector"] },
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
