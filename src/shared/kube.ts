// Kubernetes client configuration shared by the subcommands.
import { KubeConfig } from "@kubernetes/client-node";

/** Loads --kubeconfig, else $KUBECONFIG, else in-cluster, else ~/.kube/config. */
export function loadKubeConfig(path?: string): KubeConfig {
  const kc = new KubeConfig();
  if (path) kc.loadFromFile(path);
  else kc.loadFromDefault();
  return kc;
}
