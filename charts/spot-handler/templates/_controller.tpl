{{/* Whether the agent DaemonSet is rendered (mode daemonset or both). */}}
{{- define "spot-handler.agentEnabled" -}}
{{- if ne .Values.mode "controller" }}true{{ end -}}
{{- end -}}

{{/* Whether the controller Deployment is rendered (mode controller or both). */}}
{{- define "spot-handler.controllerEnabled" -}}
{{- if ne .Values.mode "daemonset" }}true{{ end -}}
{{- end -}}

{{/* Full name of the controller's resources. */}}
{{- define "spot-handler.controllerFullname" -}}
{{- printf "%s-controller" (include "spot-handler.fullname" .) | trunc 63 | trimSuffix "-" -}}
{{- end -}}

{{/* Selector labels of the controller's pods. Their name differs from the agent's so the DaemonSet's (immutable) selector never matches them. */}}
{{- define "spot-handler.controllerSelectorLabels" -}}
app.kubernetes.io/name: {{ printf "%s-controller" (include "spot-handler.name" .) | trunc 63 | trimSuffix "-" }}
app.kubernetes.io/instance: {{ .Release.Name }}
{{- end -}}

{{/* Labels on the controller's resources. */}}
{{- define "spot-handler.controllerLabels" -}}
helm.sh/chart: {{ printf "%s-%s" .Chart.Name .Chart.Version | replace "+" "_" | trunc 63 | trimSuffix "-" }}
{{ include "spot-handler.controllerSelectorLabels" . }}
app.kubernetes.io/component: controller
app.kubernetes.io/version: {{ .Chart.AppVersion | quote }}
app.kubernetes.io/managed-by: {{ .Release.Service }}
app.kubernetes.io/part-of: spot-handler
{{- with .Values.commonLabels }}
{{ toYaml . }}
{{- end }}
{{- end -}}

{{/* The controller's ServiceAccount name. */}}
{{- define "spot-handler.controllerServiceAccountName" -}}
{{- if .Values.controller.serviceAccount.create -}}
{{- default (include "spot-handler.controllerFullname" .) .Values.controller.serviceAccount.name -}}
{{- else -}}
{{- default "default" .Values.controller.serviceAccount.name -}}
{{- end -}}
{{- end -}}

{{/* Name of the ConfigMap that holds the controller's webhook template, "" when there is none. */}}
{{- define "spot-handler.controllerWebhookTemplateConfigMap" -}}
{{- $w := .Values.controller.webhook -}}
{{- if $w.templateConfigMap -}}
{{- $w.templateConfigMap -}}
{{- else if $w.template -}}
{{- printf "%s-webhook-template" (include "spot-handler.controllerFullname" .) | trunc 63 | trimSuffix "-" -}}
{{- end -}}
{{- end -}}

{{/* Fails rendering on controller values the schema cannot check. */}}
{{- define "spot-handler.validateController" -}}
{{- if and (include "spot-handler.controllerEnabled" .) (not .Values.controller.queueURL) -}}
{{- fail (printf "mode %s needs controller.queueURL: the SQS queue URL (output QueueURL of 'spot-handler controller setup --cluster NAME')" .Values.mode) -}}
{{- end -}}
{{- if and (include "spot-handler.controllerEnabled" .) (not .Values.clusterName) -}}
{{- fail (printf "mode %s needs clusterName: this cluster's name (--cluster-name), as in its Auto Scaling groups' tag kubernetes.io/cluster/<name> and 'spot-handler controller setup --cluster NAME'" .Values.mode) -}}
{{- end -}}
{{- $w := .Values.controller.webhook -}}
{{- if and $w.template $w.templateConfigMap -}}
{{- fail "controller.webhook.template and controller.webhook.templateConfigMap are both set: use one (the inline template, or the name of an existing ConfigMap)" -}}
{{- end -}}
{{- if and (include "spot-handler.controllerWebhookTemplateConfigMap" .) (not $w.secretName) -}}
{{- fail "a controller webhook template is set but controller.webhook.secretName is empty: set it to the Secret that holds the webhook URL" -}}
{{- end -}}
{{- end -}}
