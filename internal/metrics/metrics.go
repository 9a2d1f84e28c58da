// Package metrics defines the agent's Prometheus metrics. Their names and
// labels are a contract: the chart's alerts and dashboard and the advisor's
// queries use them, so change them everywhere or nowhere.
//
// Nothing here touches the global registry: New registers on the registry
// main made and passes down.
package metrics

import (
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
)

const namespace = "spot_handler"

// Pod outcomes, the values of spot_handler_pods_total's outcome label.
const (
	OutcomeEvicted            = "evicted"
	OutcomeDeletedAfterCutoff = "deleted_after_pdb_cutoff"
	OutcomeGoneBeforeEviction = "gone_before_eviction"
	OutcomeRunningAtDeadline  = "running_at_deadline"
)

// Outcomes lists every pod outcome, so each series exists from start-up.
var Outcomes = []string{OutcomeEvicted, OutcomeDeletedAfterCutoff, OutcomeGoneBeforeEviction, OutcomeRunningAtDeadline}

// Metrics is the agent's set of metrics.
type Metrics struct {
	// Notices counts notices seen, by kind and action.
	Notices *prometheus.CounterVec
	// Deadline is the termination time of the current notice as a Unix
	// timestamp, 0 when there is none.
	Deadline prometheus.Gauge
	// DrainDuration observes notice detected → node empty.
	DrainDuration prometheus.Histogram
	// DetectionToCordon observes notice detected → node cordoned and tainted.
	DetectionToCordon prometheus.Histogram
	// Pods counts drained pods by outcome.
	Pods *prometheus.CounterVec
	// LatePods counts, by outcome, the pods that reached a node after its
	// drain had emptied it (the drain watches the node until deadline −
	// margin); they are in Pods too.
	LatePods *prometheus.CounterVec
	// MissedDeadline counts drains that left pods running at deadline − margin.
	MissedDeadline prometheus.Counter
	// IMDSRequests counts instance metadata requests by path and outcome.
	IMDSRequests *prometheus.CounterVec
	// IMDSLastSuccess is when IMDS last answered, as a Unix timestamp.
	IMDSLastSuccess prometheus.Gauge
	// Webhook counts webhook posts by outcome (ok, error).
	Webhook *prometheus.CounterVec
	// NodeInfo is 1, labelled with the node and its instance type, zone and
	// life cycle, so notices can be grouped by type and zone.
	NodeInfo *prometheus.GaugeVec
	// KubeRequests counts Kubernetes API requests the agent made, by method
	// and status code: zero in steady state.
	KubeRequests *prometheus.CounterVec
	// PolicyDenials counts the agent's Kubernetes API requests refused by
	// a ValidatingAdmissionPolicy (the chart's node-bound policy), by policy.
	PolicyDenials *prometheus.CounterVec
	// BuildInfo is 1, labelled with the build's version and Go version.
	BuildInfo *prometheus.GaugeVec

	all []prometheus.Collector
}

// New creates the metrics and registers them, with the Go and process
// collectors, on reg.
func New(reg prometheus.Registerer) *Metrics {
	m := &Metrics{
		Notices: prometheus.NewCounterVec(prometheus.CounterOpts{Namespace: namespace, Name: "notices_total",
			Help: "Interruption notices seen in instance metadata (agent) or on the queue (controller), by kind (SpotInterruption, RebalanceRecommendation, ScheduledMaintenance, ASGTermination, InstanceStateChange) and action."},
			[]string{"kind", "action"}),
		Deadline: prometheus.NewGauge(prometheus.GaugeOpts{Namespace: namespace, Name: "termination_deadline_timestamp_seconds",
			Help: "Termination time of the current notice as a Unix timestamp; 0 when there is no notice."}),
		DrainDuration: prometheus.NewHistogram(prometheus.HistogramOpts{Namespace: namespace, Name: "drain_duration_seconds",
			Help:    "Time from a notice being detected to the node being empty.",
			Buckets: []float64{1, 2, 5, 10, 20, 30, 45, 60, 90, 105, 120, 180, 300}}),
		DetectionToCordon: prometheus.NewHistogram(prometheus.HistogramOpts{Namespace: namespace, Name: "detection_to_cordon_seconds",
			Help:    "Time from a notice being detected to the node being cordoned and tainted.",
			Buckets: []float64{0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2, 5, 10}}),
		Pods: prometheus.NewCounterVec(prometheus.CounterOpts{Namespace: namespace, Name: "pods_total",
			Help: "Pods drained from the node, by outcome (evicted, deleted_after_pdb_cutoff, gone_before_eviction, running_at_deadline)."},
			[]string{"outcome"}),
		LatePods: prometheus.NewCounterVec(prometheus.CounterOpts{Namespace: namespace, Name: "late_pods_total",
			Help: "Pods that reached a node after its drain had emptied it, drained while the drain watched the node until the deadline minus the margin, by outcome (as pods_total, which counts them too)."},
			[]string{"outcome"}),
		MissedDeadline: prometheus.NewCounter(prometheus.CounterOpts{Namespace: namespace, Name: "drain_missed_deadline_total",
			Help: "Drains that ended with pods still on the node at the deadline minus the margin."}),
		IMDSRequests: prometheus.NewCounterVec(prometheus.CounterOpts{Namespace: namespace, Name: "imds_requests_total",
			Help: "Instance metadata requests, by path and outcome (ok, not_found, unauthorized, forbidden, throttled, server_error, timeout, connection_error, parse_error, other)."},
			[]string{"path", "outcome"}),
		IMDSLastSuccess: prometheus.NewGauge(prometheus.GaugeOpts{Namespace: namespace, Name: "imds_last_success_timestamp_seconds",
			Help: "When instance metadata last answered, as a Unix timestamp."}),
		Webhook: prometheus.NewCounterVec(prometheus.CounterOpts{Namespace: namespace, Name: "webhook_requests_total",
			Help: "Webhook notifications sent, by outcome (ok, error)."}, []string{"outcome"}),
		NodeInfo: prometheus.NewGaugeVec(prometheus.GaugeOpts{Namespace: namespace, Name: "node_info",
			Help: "Always 1: the node this agent runs on, with its instance type, availability zone and life cycle (spot, on-demand)."},
			[]string{"node", "instance_type", "zone", "lifecycle"}),
		KubeRequests: prometheus.NewCounterVec(prometheus.CounterOpts{Namespace: namespace, Name: "kube_api_requests_total",
			Help: "Kubernetes API requests made by the agent, by method and status code; none in steady state."}, []string{"method", "code"}),
		PolicyDenials: prometheus.NewCounterVec(prometheus.CounterOpts{Namespace: namespace, Name: "kube_api_policy_denials_total",
			Help: "Kubernetes API requests of the agent refused by a ValidatingAdmissionPolicy (the chart's node-bound policy: see its README), by policy."}, []string{"policy"}),
		BuildInfo: prometheus.NewGaugeVec(prometheus.GaugeOpts{Namespace: namespace, Name: "build_info",
			Help: "Always 1: the version and Go version of this build."}, []string{"version", "goversion"}),
	}
	m.all = []prometheus.Collector{m.Notices, m.Deadline, m.DrainDuration, m.DetectionToCordon, m.Pods, m.LatePods,
		m.MissedDeadline, m.IMDSRequests, m.IMDSLastSuccess, m.Webhook, m.NodeInfo, m.KubeRequests, m.PolicyDenials, m.BuildInfo,
		collectors.NewGoCollector(), collectors.NewProcessCollector(collectors.ProcessCollectorOpts{})}
	reg.MustRegister(m.all...)
	for _, o := range Outcomes {
		m.Pods.WithLabelValues(o)
		m.LatePods.WithLabelValues(o)
	}
	// Notices start at 0, so increase() over a window counts the first one.
	for kind, actions := range map[string][]string{
		"SpotInterruption": {"terminate", "stop", "hibernate"}, "RebalanceRecommendation": {""},
		"ASGTermination": {"Terminated"}, "InstanceStateChange": {"stopping", "shutting-down", "stopped", "terminated"},
		"ScheduledMaintenance": {"instance-reboot", "system-reboot", "system-maintenance", "instance-retirement", "instance-stop"},
	} {
		for _, a := range actions {
			m.Notices.WithLabelValues(kind, a)
		}
	}
	for _, o := range []string{"ok", "error"} {
		m.Webhook.WithLabelValues(o)
	}
	return m
}

// ObserveRequest implements the IMDS client's observer: it counts the
// request and, for any answer from IMDS, records the time.
func (m *Metrics) ObserveRequest(path, outcome string, at time.Time) {
	m.IMDSRequests.WithLabelValues(path, outcome).Inc()
	switch outcome {
	case "ok", "not_found":
		m.IMDSLastSuccess.Set(float64(at.UnixNano()) / 1e9)
	}
}
