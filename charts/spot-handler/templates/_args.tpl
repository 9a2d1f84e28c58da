{{/*
The agent's and the controller's command lines, and the check that no
SPOT_HANDLER_* variable in agent.extraEnv or controller.extraEnv is for a flag
the chart passes: a flag wins over its variable, so such a setting would be
ignored without a word. The render fails instead, naming the value to set.
*/}}

{{/* The agent's arguments, a YAML list. */}}
{{- define "spot-handler.agentArgs" -}}
- agent
{{- with .Values.agent.imdsEndpoint }}
- --imds-endpoint={{ . }}
{{- end }}
- --poll-interval={{ .Values.agent.pollInterval }}
- --drain-margin={{ .Values.agent.drainMargin }}
- --pdb-fallback={{ .Values.agent.pdbFallback }}
- --drain-order={{ .Values.agent.drainOrder }}
- --taint-effect={{ .Values.agent.taintEffect }}
- --exclude-lb-label={{ .Values.agent.excludeLBLabel }}
- --rebalance={{ .Values.agent.rebalance }}
- --scheduled-maintenance={{ .Values.agent.scheduledMaintenance }}
- --asg-lifecycle={{ .Values.agent.asgLifecycle }}
- --cordon-only={{ .Values.agent.cordonOnly }}
- --dry-run={{ .Values.agent.dryRun }}
- --dry-run-webhook={{ .Values.agent.dryRunWebhook }}
- --log-format={{ .Values.agent.logFormat }}
- --log-level={{ .Values.agent.logLevel }}
- --kube-api-qps={{ .Values.agent.kubeAPIQPS }}
- --kube-api-burst={{ .Values.agent.kubeAPIBurst }}
- --kube-api-timeout={{ .Values.agent.kubeAPITimeout }}
- --allow-rehearsal={{ .Values.agent.allowRehearsal }}
- --metrics-addr={{ include "spot-handler.bindAddr" (list .Values.agent.metricsBindAddress .Values.agent.metricsPort) }}
- --probe-addr={{ include "spot-handler.bindAddr" (list (include "spot-handler.probeBind" .) .Values.agent.probePort) }}
{{- if .Values.webhook.secretName }}
- --webhook-url-file=/etc/spot-handler/webhook/url
{{- end }}
{{- if include "spot-handler.webhookTemplateConfigMap" . }}
- --webhook-template=/etc/spot-handler/webhook-template/template
{{- end }}
{{- include "spot-handler.webhookExtraArgs" .Values.webhook }}
{{- range .Values.agent.extraArgs }}
- {{ . | quote }}
{{- end }}
{{- end -}}

{{/* The controller's arguments, a YAML list. */}}
{{- define "spot-handler.controllerArgs" -}}
- controller
- --queue-url={{ $.Values.controller.queueURL }}
- --cluster-name={{ .Values.clusterName }}
{{- with .Values.controller.asgNames }}
- --asg-names={{ join "," . }}
{{- end }}
{{- with .Values.controller.region }}
- --region={{ . }}
{{- end }}
{{- with .Values.controller.endpointURL }}
- --endpoint-url={{ . }}
{{- end }}
- --drain-margin={{ $.Values.controller.drainMargin }}
- --pdb-fallback={{ $.Values.controller.pdbFallback }}
- --drain-order={{ $.Values.controller.drainOrder }}
- --taint-effect={{ $.Values.controller.taintEffect }}
- --exclude-lb-label={{ $.Values.controller.excludeLBLabel }}
- --rebalance={{ $.Values.controller.rebalance }}
- --scheduled-maintenance={{ $.Values.controller.scheduledMaintenance }}
- --cordon-only={{ $.Values.controller.cordonOnly }}
- --dry-run={{ $.Values.controller.dryRun }}
- --dry-run-webhook={{ $.Values.controller.dryRunWebhook }}
{{- if $.Values.controller.webhook.secretName }}
- --webhook-url-file=/etc/spot-handler/webhook/url
{{- end }}
{{- if include "spot-handler.controllerWebhookTemplateConfigMap" . }}
- --webhook-template=/etc/spot-handler/webhook-template/template
{{- end }}
{{- include "spot-handler.webhookExtraArgs" .Values.controller.webhook }}
- --workers={{ $.Values.controller.workers }}
- --maintenance-lead={{ $.Values.controller.maintenanceLead }}
- --rebalance-taint-ttl={{ $.Values.controller.rebalanceTaintTTL }}
- --delete-unknown={{ $.Values.controller.deleteUnknown }}
- --unknown-recheck={{ $.Values.controller.unknownRecheck }}
- --describe-instances={{ $.Values.controller.describeInstances }}
- --out-of-service-taint={{ $.Values.controller.outOfServiceTaint }}
- --queue-wait={{ $.Values.controller.queueWait }}
- --lifecycle-max-drain={{ $.Values.controller.lifecycleMaxDrain }}
- --launch-timeout={{ $.Values.controller.launchTimeout }}
- --leader-elect=true
- --leader-elect-name={{ include "spot-handler.controllerFullname" . }}
- --leader-elect-lease-duration={{ $.Values.controller.leaseDuration }}
- --leader-elect-renew-deadline={{ $.Values.controller.renewDeadline }}
- --leader-elect-retry-period={{ $.Values.controller.retryPeriod }}
- --log-format={{ $.Values.controller.logFormat }}
- --log-level={{ $.Values.controller.logLevel }}
- --kube-api-qps={{ $.Values.controller.kubeAPIQPS }}
- --kube-api-burst={{ $.Values.controller.kubeAPIBurst }}
- --metrics-addr=:{{ $.Values.controller.metricsPort }}
- --probe-addr=:{{ $.Values.controller.probePort }}
{{- range .Values.controller.extraArgs }}
- {{ . | quote }}
{{- end }}
{{- end -}}

{{/* The chart value behind each flag the chart passes to the agent. */}}
{{- define "spot-handler.agentFlagValues" -}}
imds-endpoint: agent.imdsEndpoint
poll-interval: agent.pollInterval
drain-margin: agent.drainMargin
pdb-fallback: agent.pdbFallback
drain-order: agent.drainOrder
taint-effect: agent.taintEffect
exclude-lb-label: agent.excludeLBLabel
rebalance: agent.rebalance
scheduled-maintenance: agent.scheduledMaintenance
asg-lifecycle: agent.asgLifecycle
cordon-only: agent.cordonOnly
dry-run: agent.dryRun
dry-run-webhook: agent.dryRunWebhook
log-format: agent.logFormat
log-level: agent.logLevel
kube-api-qps: agent.kubeAPIQPS
kube-api-burst: agent.kubeAPIBurst
kube-api-timeout: agent.kubeAPITimeout
allow-rehearsal: agent.allowRehearsal
metrics-addr: agent.metricsBindAddress
probe-addr: agent.probeBindAddress
webhook-url: webhook.secretName
webhook-url-file: webhook.secretName
webhook-template: webhook.template
webhook-header: webhook.headers
webhook-header-file: webhook.headersSecretName
webhook-proxy: webhook.proxy
{{- end -}}

{{/* The chart value behind each flag the chart passes to the controller. */}}
{{- define "spot-handler.controllerFlagValues" -}}
queue-url: controller.queueURL
cluster-name: clusterName
asg-names: controller.asgNames
region: controller.region
endpoint-url: controller.endpointURL
drain-margin: controller.drainMargin
pdb-fallback: controller.pdbFallback
drain-order: controller.drainOrder
taint-effect: controller.taintEffect
exclude-lb-label: controller.excludeLBLabel
rebalance: controller.rebalance
scheduled-maintenance: controller.scheduledMaintenance
cordon-only: controller.cordonOnly
dry-run: controller.dryRun
dry-run-webhook: controller.dryRunWebhook
webhook-url: controller.webhook.secretName
webhook-url-file: controller.webhook.secretName
webhook-template: controller.webhook.template
webhook-header: controller.webhook.headers
webhook-header-file: controller.webhook.headersSecretName
webhook-proxy: controller.webhook.proxy
workers: controller.workers
maintenance-lead: controller.maintenanceLead
rebalance-taint-ttl: controller.rebalanceTaintTTL
delete-unknown: controller.deleteUnknown
unknown-recheck: controller.unknownRecheck
describe-instances: controller.describeInstances
out-of-service-taint: controller.outOfServiceTaint
queue-wait: controller.queueWait
lifecycle-max-drain: controller.lifecycleMaxDrain
launch-timeout: controller.launchTimeout
leader-elect-name: fullnameOverride
leader-elect-lease-duration: controller.leaseDuration
leader-elect-renew-deadline: controller.renewDeadline
leader-elect-retry-period: controller.retryPeriod
log-format: controller.logFormat
log-level: controller.logLevel
kube-api-qps: controller.kubeAPIQPS
kube-api-burst: controller.kubeAPIBurst
metrics-addr: controller.metricsPort
probe-addr: controller.probePort
{{- end -}}

{{/*
checkExtraEnv fails when an entry of env (the list at the value named where)
sets SPOT_HANDLER_<FLAG> for a flag in the rendered arguments args (a
template name); values names the template mapping flags to chart values.
--webhook-url-file also takes the place of --webhook-url.
*/}}
{{- define "spot-handler.checkExtraEnv" -}}
{{- $passed := dict -}}
{{- range (include .args .root | fromYamlArray) -}}
{{- $a := toString . -}}
{{- if hasPrefix "--" $a -}}
{{- $_ := set $passed (regexReplaceAll "^--([^=]*)(=.*)?$" $a "${1}") true -}}
{{- end -}}
{{- end -}}
{{- if hasKey $passed "webhook-url-file" -}}{{- $_ := set $passed "webhook-url" true -}}{{- end -}}
{{- $values := include .values .root | fromYaml -}}
{{- range .env -}}
{{- $name := toString .name -}}
{{- $flag := $name | trimPrefix "SPOT_HANDLER_" | lower | replace "_" "-" -}}
{{- if and (hasPrefix "SPOT_HANDLER_" $name) (hasKey $passed $flag) -}}
{{- with get $values $flag -}}
{{- fail (printf "%s sets %s, but the chart passes --%s on the command line and a flag wins over its variable: set %s instead" $.where $name $flag .) -}}
{{- else -}}
{{- fail (printf "%s sets %s, but the chart always passes --%s on the command line and a flag wins over its variable: remove it" $.where $name $flag) -}}
{{- end -}}
{{- end -}}
{{- end -}}
{{- end -}}

{{/*
checkExtraArgs fails when an entry of extra (the list at the value named
where) names a flag the chart passes in args (a template name, whose render
includes extra): -flag, --flag and --flag=value alike. The last of two flags
wins, so the chart's value would be ignored without a word, and where the
chart reads a value back (agent.excludeLBLabel in the node-bound policy) the
two would disagree. values names the template mapping flags to chart values.
*/}}
{{- define "spot-handler.checkExtraArgs" -}}
{{- $re := "^--?([^-=][^=]*)(=.*)?$" -}}
{{- $extra := dict -}}
{{- range .extra -}}
{{- $a := toString . -}}
{{- if regexMatch $re $a -}}
{{- $f := regexReplaceAll $re $a "${1}" -}}
{{- $_ := set $extra $f (add1 (get $extra $f | default 0)) -}}
{{- end -}}
{{- end -}}
{{- $chart := dict -}}
{{- range (include .args .root | fromYamlArray) -}}
{{- $a := toString . -}}
{{- if regexMatch $re $a -}}
{{- $f := regexReplaceAll $re $a "${1}" -}}
{{- $_ := set $chart $f (add1 (get $chart $f | default 0)) -}}
{{- end -}}
{{- end -}}
{{- if hasKey $extra "node-name" -}}
{{- fail (printf "%s passes --node-name: an agent drains only the node it runs on, which the chart gives it from the downward API (NODE_NAME); remove it" $.where) -}}
{{- end -}}
{{- $values := include .values .root | fromYaml -}}
{{- range $f, $n := $extra -}}
{{- $passed := gt (int (get $chart $f | default 0)) (int $n) -}}
{{- if and (eq $f "webhook-url") (gt (int (get $chart "webhook-url-file" | default 0)) (int (get $extra "webhook-url-file" | default 0))) -}}
{{- $passed = true -}}
{{- end -}}
{{- if $passed -}}
{{- with get $values $f -}}
{{- fail (printf "%s passes --%s, but the chart already passes it and the last one wins (the chart's value would be ignored): set %s instead" $.where $f .) -}}
{{- else -}}
{{- fail (printf "%s passes --%s, but the chart always passes --%s: remove it" $.where $f $f) -}}
{{- end -}}
{{- end -}}
{{- end -}}
{{- end -}}

{{/* bindAddr renders (list ADDRESS PORT) as a listen address: all is every interface, podIP the downward API's $(POD_IP); an IPv6 address gets brackets (so does the pod IP, whichever family it is). */}}
{{- define "spot-handler.bindAddr" -}}
{{- $addr := toString (index . 0) -}}{{- $port := index . 1 -}}
{{- if eq $addr "all" -}}:{{ $port }}
{{- else if eq $addr "podIP" -}}[$(POD_IP)]:{{ $port }}
{{- else if contains ":" $addr -}}[{{ $addr }}]:{{ $port }}
{{- else -}}{{ $addr }}:{{ $port }}
{{- end -}}
{{- end -}}

{{/* probeBind is agent.probeBindAddress with auto resolved: loopback with hostNetwork (the kubelet probes from the node), the pod IP without. */}}
{{- define "spot-handler.probeBind" -}}
{{- $p := .Values.agent.probeBindAddress -}}
{{- if eq $p "auto" -}}{{ ternary "127.0.0.1" "podIP" .Values.hostNetwork }}{{- else -}}{{ $p }}{{- end -}}
{{- end -}}

{{/* probeHost is the address the kubelet's probes go to: "" (the pod IP) unless the probes listen on one address of the node. */}}
{{- define "spot-handler.probeHost" -}}
{{- $p := include "spot-handler.probeBind" . -}}
{{- if not (has $p (list "all" "podIP")) -}}{{ $p }}{{- end -}}
{{- end -}}

{{/* validateBind fails on listen addresses that cannot work. */}}
{{- define "spot-handler.validateBind" -}}
{{- if and (not .Values.hostNetwork) (include "spot-handler.probeHost" .) -}}
{{- fail (printf "agent.probeBindAddress=%s needs hostNetwork: without it the kubelet cannot reach an address of the pod it does not know; use podIP or all" .Values.agent.probeBindAddress) -}}
{{- end -}}
{{- if and (regexMatch "^(127\\.|::1$)" (toString .Values.agent.metricsBindAddress)) (or .Values.metrics.podMonitor.enabled .Values.metrics.serviceMonitor.enabled) -}}
{{- fail (printf "agent.metricsBindAddress=%s is loopback, where the PodMonitor or ServiceMonitor cannot scrape it: use podIP, or turn the monitor off" .Values.agent.metricsBindAddress) -}}
{{- end -}}
{{- end -}}

{{/* webhookExtraArgs renders a webhook's (webhook or controller.webhook) headers and proxy as flags. A header value's $( is written $$( so the kubelet passes it as written. */}}
{{- define "spot-handler.webhookExtraArgs" -}}
{{- range .headers }}
- {{ printf "--webhook-header=%s: %s" .name (.value | toString | replace "$(" "$$(") | quote }}
{{- end }}
{{- if .headersSecretName }}
- --webhook-header-file=/etc/spot-handler/webhook-headers/headers
{{- end }}
{{- with .proxy }}
- {{ printf "--webhook-proxy=%s" . | quote }}
{{- end }}
{{- end -}}

{{/* validateWebhookExtras fails on headers or a proxy without a webhook (dict "w" the webhook values "where" their name). */}}
{{- define "spot-handler.validateWebhookExtras" -}}
{{- if and (not .w.secretName) (or .w.headers .w.headersSecretName .w.proxy) -}}
{{- fail (printf "%s.headers, %s.headersSecretName and %s.proxy need a webhook: set %s.secretName to the Secret that holds its URL" .where .where .where .where) -}}
{{- end -}}
{{- end -}}
