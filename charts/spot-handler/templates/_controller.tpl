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

{{/* Fails rendering on controller values the schema cannot check. */}}
{{- define "spot-handler.validateController" -}}
{{- if and (include "spot-handler.controllerEnabled" .) (not .Values.controller.queueURL) -}}
{{- fail (printf "mode %s needs controller.queueURL: the SQS queue URL (output QueueURL of 'spot-handler controller setup --cluster NAME')" .Values.mode) -}}
{{- end -}}
{{- end -}}
