{{/*
Names. Cluster-scoped objects (ClusterRoles, the webhook configuration, the admission policies)
carry the full name so that two releases in one cluster do not collide.
*/}}
{{- define "outrigger.name" -}}
{{- default .Chart.Name .Values.nameOverride | trunc 63 | trimSuffix "-" }}
{{- end }}

{{- define "outrigger.fullname" -}}
{{- if .Values.fullnameOverride }}
{{- .Values.fullnameOverride | trunc 63 | trimSuffix "-" }}
{{- else }}
{{- $name := default .Chart.Name .Values.nameOverride }}
{{- if contains $name .Release.Name }}
{{- .Release.Name | trunc 63 | trimSuffix "-" }}
{{- else }}
{{- printf "%s-%s" .Release.Name $name | trunc 63 | trimSuffix "-" }}
{{- end }}
{{- end }}
{{- end }}

{{- define "outrigger.controller.fullname" -}}
{{- printf "%s-controller" (include "outrigger.fullname" .) | trunc 63 | trimSuffix "-" }}
{{- end }}

{{- define "outrigger.injector.fullname" -}}
{{- printf "%s-injector" (include "outrigger.fullname" .) | trunc 63 | trimSuffix "-" }}
{{- end }}

{{/* The Secret in which the injector keeps its CA and serving certificate. */}}
{{- define "outrigger.injector.certSecretName" -}}
{{- default (printf "%s-tls" (include "outrigger.injector.fullname" .)) .Values.injector.certSecretName | trunc 63 | trimSuffix "-" }}
{{- end }}

{{/* The Lease the controller replicas elect their leader on. */}}
{{- define "outrigger.controller.leaseName" -}}
{{- include "outrigger.controller.fullname" . }}
{{- end }}

{{- define "outrigger.labels" -}}
helm.sh/chart: {{ printf "%s-%s" .Chart.Name .Chart.Version | replace "+" "_" }}
app.kubernetes.io/name: {{ include "outrigger.name" . }}
app.kubernetes.io/instance: {{ .Release.Name }}
app.kubernetes.io/version: {{ .Chart.AppVersion | quote }}
app.kubernetes.io/managed-by: {{ .Release.Service }}
app.kubernetes.io/part-of: outrigger
{{- with .Values.commonLabels }}
{{ toYaml . }}
{{- end }}
{{- end }}

{{/* Selector labels of one component ("controller" or "injector"); never change between versions. */}}
{{- define "outrigger.selectorLabels" -}}
app.kubernetes.io/name: {{ include "outrigger.name" .root }}
app.kubernetes.io/instance: {{ .root.Release.Name }}
app.kubernetes.io/component: {{ .component }}
{{- end }}

{{- define "outrigger.componentLabels" -}}
{{ include "outrigger.labels" .root }}
app.kubernetes.io/component: {{ .component }}
{{- end }}

{{/* registry/repository[:tag|@digest]; the tag defaults to the chart's appVersion. */}}
{{- define "outrigger.image" -}}
{{- $repo := .Values.image.repository }}
{{- if .Values.image.registry }}{{ $repo = printf "%s/%s" .Values.image.registry .Values.image.repository }}{{ end }}
{{- if .Values.image.digest }}
{{- printf "%s@%s" $repo .Values.image.digest }}
{{- else }}
{{- printf "%s:%s" $repo (default .Chart.AppVersion .Values.image.tag) }}
{{- end }}
{{- end }}

{{- define "outrigger.serviceAccountUser" -}}
{{- printf "system:serviceaccount:%s:%s" .root.Release.Namespace .name }}
{{- end }}

{{/*
Scheduling of one component: spread replicas over nodes (soft or hard anti-affinity) and over
the topology keys given. matchLabelKeys counts each ReplicaSet revision separately, so a
rolling update's surge pod is never blocked by the replicas it replaces.
*/}}
{{- define "outrigger.scheduling" -}}
{{- $values := .values }}
{{- $selector := include "outrigger.selectorLabels" . }}
{{- with $values.nodeSelector }}
nodeSelector:
  {{- toYaml . | nindent 2 }}
{{- end }}
{{- with $values.tolerations }}
tolerations:
  {{- toYaml . | nindent 2 }}
{{- end }}
{{- if $values.affinity }}
affinity:
  {{- toYaml $values.affinity | nindent 2 }}
{{- else if eq $values.podAntiAffinity "soft" }}
affinity:
  podAntiAffinity:
    preferredDuringSchedulingIgnoredDuringExecution:
      - weight: 100
        podAffinityTerm:
          topologyKey: kubernetes.io/hostname
          labelSelector:
            matchLabels:
              {{- $selector | nindent 14 }}
{{- else if eq $values.podAntiAffinity "hard" }}
affinity:
  podAntiAffinity:
    requiredDuringSchedulingIgnoredDuringExecution:
      - topologyKey: kubernetes.io/hostname
        labelSelector:
          matchLabels:
            {{- $selector | nindent 12 }}
{{- end }}
{{- with $values.topologySpread }}
topologySpreadConstraints:
  {{- range . }}
  - topologyKey: {{ .topologyKey }}
    maxSkew: {{ .maxSkew }}
    whenUnsatisfiable: {{ .whenUnsatisfiable }}
    matchLabelKeys: [pod-template-hash]
    labelSelector:
      matchLabels:
        {{- $selector | nindent 8 }}
  {{- end }}
{{- end }}
{{- with $values.priorityClassName }}
priorityClassName: {{ . }}
{{- end }}
{{- end }}

{{/* The restricted securityContexts shared by both Deployments. */}}
{{- define "outrigger.podSecurityContext" -}}
{{- toYaml .Values.podSecurityContext }}
{{- end }}

{{- define "outrigger.containerSecurityContext" -}}
{{- toYaml .Values.containerSecurityContext }}
{{- end }}

{{/* Prometheus scrape annotations for annotation-based discovery. */}}
{{- define "outrigger.metricsAnnotations" -}}
{{- if .root.Values.metrics.podAnnotations -}}
prometheus.io/scrape: "true"
prometheus.io/port: {{ .port | quote }}
prometheus.io/path: /metrics
{{- end }}
{{- end }}

{{/* Rules across values that the schema cannot explain well. Included by webhook.yaml, so every render runs them. */}}
{{- define "outrigger.validate" -}}
{{- if and (eq .Values.webhook.failurePolicy "Fail") (not .Values.webhook.url) (lt (int .Values.injector.replicas) 1) }}
{{- fail "injector.replicas is 0 while webhook.failurePolicy is Fail: every pod creation outside the excluded namespaces would be refused. Run at least one injector replica, or set webhook.url to an injector outside the cluster." }}
{{- end }}
{{- if eq (int .Values.injector.webhookPort) (int .Values.injector.opsPort) }}
{{- fail "injector.webhookPort and injector.opsPort must differ." }}
{{- end }}
{{- end }}

{{/*
The injector's sidecar settings as flags. The controller needs the same ones to tell which
running sidecars are stale, so both take them from here.
*/}}
{{- define "outrigger.sidecarArgs" -}}
{{- with .Values.injector.sidecar -}}
- --sidecar-image={{ .image }}
{{- with .imagePullPolicy }}
- --sidecar-image-pull-policy={{ . }}
{{- end }}
- --sidecar-log-level={{ .logLevel }}
- --sidecar-log-as-json={{ .logAsJson }}
- --native-sidecar={{ .nativeSidecar }}
- --sidecar-cpu-request={{ .resources.requests.cpu }}
- --sidecar-cpu-limit={{ .resources.limits.cpu }}
- --sidecar-memory-request={{ .resources.requests.memory }}
- --sidecar-memory-limit={{ .resources.limits.memory }}
{{- if not (kindIs "invalid" .runAsUser) }}
- --sidecar-run-as-user={{ .runAsUser }}
{{- end }}
{{- if not (kindIs "invalid" .runAsGroup) }}
- --sidecar-run-as-group={{ .runAsGroup }}
{{- end }}
{{- end }}
{{ include "outrigger.mtlsArgs" . }}
{{- end }}

{{- define "outrigger.sentry.fullname" -}}
{{- printf "%s-sentry" (include "outrigger.fullname" .) | trunc 63 | trimSuffix "-" }}
{{- end }}

{{/* Sentry's CA Secret and the trust-bundle ConfigMap, both in the release namespace. */}}
{{- define "outrigger.sentry.caSecretName" -}}
{{- printf "%s-ca" (include "outrigger.sentry.fullname" .) | trunc 63 | trimSuffix "-" }}
{{- end }}
{{- define "outrigger.sentry.trustBundleName" -}}
{{- printf "%s-trust-bundle" (include "outrigger.fullname" .) | trunc 63 | trimSuffix "-" }}
{{- end }}

{{/* The identity flags the injector and the controller share (sidecar settings). */}}
{{- define "outrigger.mtlsArgs" -}}
- --mtls={{ .Values.mtls.enabled }}
- --trust-domain={{ .Values.mtls.trustDomain }}
- --sentry-namespace={{ .Release.Namespace }}
- --sentry-address={{ include "outrigger.sentry.fullname" . }}.{{ .Release.Namespace }}.svc:{{ .Values.sentry.service.port }}
{{- end }}

{{/* Namespaces the webhook never sees, comma-separated: the injector's webhook leaves them out,
and the controller names this as the reason their annotated pods have no sidecar. */}}
{{- define "outrigger.webhookExcludedNamespaces" -}}
{{- concat (list .Release.Namespace "kube-system") .Values.webhook.excludedNamespaces | uniq | join "," -}}
{{- end }}
