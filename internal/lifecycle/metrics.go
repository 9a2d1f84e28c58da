package lifecycle

import "github.com/prometheus/client_golang/prometheus"

// Why an action was completed: the reason label of
// spot_handler_lifecycle_completions_total.
const (
	// ReasonDrained: the node is empty.
	ReasonDrained = "drained"
	// ReasonDrainFailed: the drain failed; completed at the deadline (the
	// instance is going anyway).
	ReasonDrainFailed = "drain_failed"
	// ReasonUnknownInstance: the instance is no node of this cluster.
	ReasonUnknownInstance = "unknown_instance"
	// ReasonNodeReady: the launched instance's node is Ready.
	ReasonNodeReady = "node_ready"
	// ReasonLaunchTimeout: the launched instance's node was not Ready in time.
	ReasonLaunchTimeout = "launch_timeout"
)

// Outcomes of a call: the outcome label of both counters.
const (
	// OutcomeOK: Auto Scaling accepted the call.
	OutcomeOK = "ok"
	// OutcomeGone: the action was no longer pending (completed by someone
	// else, or timed out): a ValidationError.
	OutcomeGone = "gone"
	// OutcomeError: any other failure.
	OutcomeError = "error"
)

// Metrics are the package's Prometheus metrics.
type Metrics struct {
	// Completions counts CompleteLifecycleAction calls by transition
	// (terminating, launching), result, reason and outcome.
	Completions *prometheus.CounterVec
	// Heartbeats counts RecordLifecycleActionHeartbeat calls by outcome.
	Heartbeats *prometheus.CounterVec
	// Held is the number of actions this process holds (heartbeats running).
	Held prometheus.Gauge
}

// NewMetrics creates the metrics and registers them on reg.
func NewMetrics(reg prometheus.Registerer) *Metrics {
	m := &Metrics{
		Completions: prometheus.NewCounterVec(prometheus.CounterOpts{Namespace: "spot_handler", Subsystem: "lifecycle", Name: "completions_total",
			Help: "CompleteLifecycleAction calls, by transition (terminating, launching), result (CONTINUE, ABANDON), reason (drained, drain_failed, unknown_instance, node_ready, launch_timeout) and outcome (ok, gone, error)."},
			[]string{"transition", "result", "reason", "outcome"}),
		Heartbeats: prometheus.NewCounterVec(prometheus.CounterOpts{Namespace: "spot_handler", Subsystem: "lifecycle", Name: "heartbeats_total",
			Help: "RecordLifecycleActionHeartbeat calls, by outcome (ok, gone, error)."}, []string{"outcome"}),
		Held: prometheus.NewGauge(prometheus.GaugeOpts{Namespace: "spot_handler", Subsystem: "lifecycle", Name: "actions_held",
			Help: "Lifecycle actions this process holds with heartbeats now."}),
	}
	reg.MustRegister(m.Completions, m.Heartbeats, m.Held)
	for _, o := range []string{OutcomeOK, OutcomeGone, OutcomeError} {
		m.Heartbeats.WithLabelValues(o)
	}
	for _, c := range [][3]string{{"terminating", "CONTINUE", ReasonDrained}, {"terminating", "CONTINUE", ReasonDrainFailed},
		{"terminating", "CONTINUE", ReasonUnknownInstance}, {"launching", "CONTINUE", ReasonNodeReady}, {"launching", "ABANDON", ReasonLaunchTimeout}} {
		m.Completions.WithLabelValues(c[0], c[1], c[2], OutcomeOK)
	}
	return m
}

// transitionLabel is the transition label of a lifecycle transition.
func transitionLabel(t string) string {
	if t == Launching {
		return "launching"
	}
	return "terminating"
}
