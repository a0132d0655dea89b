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

export const SUBSCRIPTION_RESOURCE = {
  kind: "Subscription",
  listKind: "SubscriptionList",
  plural: "subscriptions",
  singular: "subscription",
  shortNames: ["daprsub", "dsub"],
} as const satisfies ResourceNames;

export const RESILIENCY_RESOURCE = {
  kind: "Resiliency",
  listKind: "ResiliencyList",
  plural: "resiliencies",
  singular: "resiliency",
  shortNames: ["daprres", "dres"],
} as const satisfies ResourceNames;

export const HTTP_ENDPOINT_RESOURCE = {
  kind: "HTTPEndpoint",
  listKind: "HTTPEndpointList",
  plural: "httpendpoints",
  singular: "httpendpoint",
  shortNames: ["daprhttp", "dhttp"],
} as const satisfies ResourceNames;

export const MCP_SERVER_RESOURCE = {
  kind: "MCPServer",
  listKind: "MCPServerList",
  plural: "mcpservers",
  singular: "mcpserver",
  shortNames: ["daprmcp", "dmcp"],
} as const satisfies ResourceNames;

export const WORKFLOW_ACCESS_POLICY_RESOURCE = {
  kind: "WorkflowAccessPolicy",
  listKind: "WorkflowAccessPolicyList",
  plural: "workflowaccesspolicies",
  singular: "workflowaccesspolicy",
  shortNames: ["daprwap", "dwap"],
} as const satisfies ResourceNames;

/** Subscription's versions: Dapr stores v2alpha1 and still serves v1alpha1, converted by a webhook. */
export const SUBSCRIPTION_V1ALPHA1 = "v1alpha1";
export const SUBSCRIPTION_V2ALPHA1 = "v2alpha1";

/** Every kind crds/ defines, with the versions it serves; the first one is stored. */
export const DAPR_RESOURCES = [
  { names: COMPONENT_RESOURCE, versions: [DAPR_VERSION] },
  { names: CONFIGURATION_RESOURCE, versions: [DAPR_VERSION] },
  { names: SUBSCRIPTION_RESOURCE, versions: [SUBSCRIPTION_V2ALPHA1, SUBSCRIPTION_V1ALPHA1] },
  { names: RESILIENCY_RESOURCE, versions: [DAPR_VERSION] },
  { names: HTTP_ENDPOINT_RESOURCE, versions: [DAPR_VERSION] },
  { names: MCP_SERVER_RESOURCE, versions: [DAPR_VERSION] },
  { names: WORKFLOW_ACCESS_POLICY_RESOURCE, versions: [DAPR_VERSION] },
] as const;

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
