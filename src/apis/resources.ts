// Names of Dapr's resources as the API server knows them: group, version, kinds, plurals, and
// the condition type the printer columns read. crds/ declares the same names; a unit test
// fails when the two disagree.
import type { V1ListMeta } from "@kubernetes/client-node";
import type { Component, Configuration } from "./types.ts";

export const DAPR_GROUP = "dapr.io";
export const DAPR_VERSION = "v1alpha1";
export const DAPR_API_VERSION = `${DAPR_GROUP}/${DAPR_VERSION}`;
/** `kubectl get dapr` lists every kind in this category. */
export const DAPR_CATEGORY = "dapr";

export interface ResourceNames {
  kind: string;
  listKind: string;
  plural: string;
  singular: string;
  shortNames: readonly string[];
}

export const COMPONENT_RESOURCE = {
  kind: "Component",
  listKind: "ComponentList",
  plural: "components",
  singular: "component",
  shortNames: ["daprcomp", "dcomp"],
} as const satisfies ResourceNames;

export const CONFIGURATION_RESOURCE = {
  kind: "Configuration",
  listKind: "ConfigurationList",
  plural: "configurations",
  singular: "configuration",
  shortNames: ["daprconfig", "dconf"],
} as const satisfies ResourceNames;

/** The condition whose status the Ready printer column shows. */
export const READY_CONDITION = "Ready";

export interface ComponentList {
  apiVersion?: string;
  kind?: string;
  metadata?: V1ListMeta;
  items: Component[];
}

export interface ConfigurationList {
  apiVersion?: string;
  kind?: string;
  metadata?: V1ListMeta;
  items: Configuration[];
}
