// The controller runtime's public surface; see docs/controller-runtime.md.
export * from "../../shared/api-errors.ts";
export * from "../../shared/backoff.ts";
export * from "./cache.ts";
export * from "./clock.ts";
export * from "./informer.ts";
export * from "../../shared/kube-http.ts";
export * from "./leader-election.ts";
export * from "./metrics.ts";
export * from "./queue.ts";
export * from "./resource.ts";
export * from "./watch.ts";
export * from "./controller.ts";
export * from "./predicates.ts";
