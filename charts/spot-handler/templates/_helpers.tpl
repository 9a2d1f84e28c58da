{{/* Chart name, or nameOverride; used in the app.kubernetes.io/name label. */}}
{{- define "spot-handler.name" -}}
{{- default .Chart.Name .Values.nameOverride | trunc 63 | trimSuffix "-" -}}
{{- end -}}

{{/* Full name of the resources: fullnameOverride, else release-name (or just the release name when it already contains the chart name). */}}
{{- define "spot-handler.fullname" -}}
{{- if .Values.fullnameOverride -}}
{{- .Values.fullnameOverride | trunc 63 | trimSuffix "-" -}}
{{- else -}}
{{- $name := default .Chart.Name .Values.nameOverride -}}
{{- if contains $name .Release.Name -}}
{{- .Release.Name | trunc 63 | trimSuffix "-" -}}
{{- else -}}
{{- printf "%s-%s" .Release.Name $name | trunc 63 | trimSuffix "-" -}}
{{- end -}}
{{- end -}}
{{- end -}}

{{/* Selector labels: stable for the DaemonSet's life. */}}
{{- define "spot-handler.selectorLabels" -}}
app.kubernetes.io/name: {{ include "spot-handler.name" . }}
app.kubernetes.io/instance: {{ .Release.Name }}
{{- end -}}

{{/* Labels on every resource. */}}
{{- define "spot-handler.labels" -}}
helm.sh/chart: {{ printf "%s-%s" .Chart.Name .Chart.Version | replace "+" "_" | trunc 63 | trimSuffix "-" }}
{{ include "spot-handler.selectorLabels" . }}
app.kubernetes.io/version: {{ .Chart.AppVersion | quote }}
app.kubernetes.io/managed-by: {{ .Release.Service }}
app.kubernetes.io/part-of: spot-handler
{{- with .Values.commonLabels }}
{{ toYaml . }}
{{- end }}
{{- end -}}

{{/* ServiceAccount name. */}}
{{- define "spot-handler.serviceAccountName" -}}
{{- if .Values.serviceAccount.create -}}
{{- default (include "spot-handler.fullname" .) .Values.serviceAccount.name -}}
{{- else -}}
{{- default "default" .Values.serviceAccount.name -}}
{{- end -}}
{{- end -}}

{{/* Image reference: repository:tag, or repository@digest when a digest is set. */}}
{{- define "spot-handler.image" -}}
{{- if .Values.image.digest -}}
{{- printf "%s@%s" .Values.image.repository .Values.image.digest -}}
{{- else -}}
{{- printf "%s:%s" .Values.image.repository (default .Chart.AppVersion .Values.image.tag) -}}
{{- end -}}
{{- end -}}

{{/* The job label Prometheus gives the agent's targets: the chart's monitors take it from the app.kubernetes.io/name label. */}}
{{- define "spot-handler.job" -}}
{{- default (include "spot-handler.name" .) .Values.prometheusRule.job -}}
{{- end -}}

{{/* Name of the ConfigMap that holds the webhook template, "" when there is none. */}}
{{- define "spot-handler.webhookTemplateConfigMap" -}}
{{- if .Values.webhook.templateConfigMap -}}
{{- .Values.webhook.templateConfigMap -}}
{{- else if .Values.webhook.template -}}
{{- printf "%s-webhook-template" (include "spot-handler.fullname" .) | trunc 63 | trimSuffix "-" -}}
{{- end -}}
{{- end -}}

{{/* Fails rendering on combinations of values the schema cannot express. */}}
{{- define "spot-handler.validate" -}}
{{- if and .Values.webhook.template .Values.webhook.templateConfigMap -}}
{{- fail "webhook.template and webhook.templateConfigMap are both set: use one (the inline template, or the name of an existing ConfigMap)" -}}
{{- end -}}
{{- if and (include "spot-handler.webhookTemplateConfigMap" .) (not .Values.webhook.secretName) -}}
{{- fail "a webhook template is set but webhook.secretName is empty: set webhook.secretName to the Secret that holds the webhook URL" -}}
{{- end -}}
{{- end -}}

{{/* Whether the node-bound ValidatingAdmissionPolicy is rendered: "true", or why not. agent.nodeBoundPolicy true renders it, false never, auto (the default) where the cluster is 1.32 or newer (pod-bound tokens carry the node claims from 1.32 on). */}}
{{- define "spot-handler.nodeBoundPolicy" -}}
{{- $v := toString .Values.agent.nodeBoundPolicy -}}
{{- if not (include "spot-handler.agentEnabled" .) -}}
no agent in mode {{ .Values.mode }}
{{- else if eq $v "true" -}}
true
{{- else if eq $v "false" -}}
agent.nodeBoundPolicy is false
{{- else if semverCompare ">=1.32.0-0" .Capabilities.KubeVersion.Version -}}
true
{{- else -}}
the cluster runs Kubernetes {{ .Capabilities.KubeVersion.Version }}: a pod-bound token carries the node claims from 1.32 on (agent.nodeBoundPolicy is auto)
{{- end -}}
{{- end -}}

{{/* Name of the node-bound ValidatingAdmissionPolicy and its binding. */}}
{{- define "spot-handler.nodeBoundPolicyName" -}}
{{- printf "%s-node-bound" (include "spot-handler.fullname" .) | trunc 63 | trimSuffix "-" -}}
{{- end -}}
