package metrics

import "github.com/prometheus/client_golang/prometheus"

// Queue message outcomes, the values of spot_handler_queue_messages_total's
// outcome label.
const (
	// QueueHandled: the notice is recorded on its node; the message is deleted.
	QueueHandled = "handled"
	// QueueIgnored: nothing to do (a kind or state that needs no action, a
	// policy of ignore, an event of an unknown kind); deleted.
	QueueIgnored = "ignored"
	// QueueAgentDraining: the node's DaemonSet agent already drains it; deleted.
	QueueAgentDraining = "agent_draining"
	// QueueRecheck: the instance is no node yet; kept for one re-check.
	QueueRecheck = "recheck"
	// QueueUnknownInstance: still no node after the re-check; deleted.
	QueueUnknownInstance = "unknown_instance"
	// QueueUnknownKept: no node, kept on the queue (--delete-unknown=false).
	QueueUnknownKept = "unknown_kept"
	// QueueMalformed: not a readable event; deleted.
	QueueMalformed = "malformed"
	// QueueFailed: the node could not be marked yet; kept, it comes back.
	QueueFailed = "failed"
)

// How the controller found a message's node, the values of
// spot_handler_queue_instance_lookups_total's via label.
const (
	// LookupIndex: the instance index (nodes' provider IDs) knew it.
	LookupIndex = "index"
	// LookupDescribe: a DescribeInstances call named its private DNS name.
	LookupDescribe = "describe_instances"
	// LookupNotFound: no node of this cluster.
	LookupNotFound = "not_found"
)

// QueueOutcomes lists every outcome, so each series exists from start-up.
var QueueOutcomes = []string{QueueHandled, QueueIgnored, QueueAgentDraining, QueueRecheck, QueueUnknownInstance,
	QueueUnknownKept, QueueMalformed, QueueFailed}

// Queue is the controller's own metrics, next to the drain metrics of
// Metrics.
type Queue struct {
	// Messages counts queue messages by type (pkg/queue's Type constants)
	// and outcome.
	Messages *prometheus.CounterVec
	// MessageAge observes event time → message received.
	MessageAge prometheus.Histogram
	// ReceiveErrors counts failed ReceiveMessage and DeleteMessage calls, by operation.
	ReceiveErrors *prometheus.CounterVec
	// Lookups counts instance → node lookups by how they were answered
	// (index, describe_instances, not_found).
	Lookups *prometheus.CounterVec
	// DrainsInFlight is the number of drains running on a worker.
	DrainsInFlight prometheus.Gauge
	// DrainsWaiting is the number of cordoned nodes waiting for a worker.
	DrainsWaiting prometheus.Gauge
	// Leader is 1 while this replica is the leader.
	Leader prometheus.Gauge
	// NodeActors is the number of nodes the leader keeps a notice state
	// machine for: nodes with a notice, until they are gone (or idle) and
	// no drain runs.
	NodeActors prometheus.Gauge
}

// NewQueue creates the controller's queue metrics and registers them on
// reg. types are the message types to start at 0.
func NewQueue(reg prometheus.Registerer, types []string) *Queue {
	q := &Queue{
		Messages: prometheus.NewCounterVec(prometheus.CounterOpts{Namespace: namespace, Subsystem: "queue", Name: "messages_total",
			Help: "SQS messages received, by type (spot_interruption, rebalance_recommendation, state_change, health_scheduled_change, asg_lifecycle, unknown, malformed) and outcome (handled, ignored, agent_draining, recheck, unknown_instance, unknown_kept, malformed, failed)."},
			[]string{"type", "outcome"}),
		MessageAge: prometheus.NewHistogram(prometheus.HistogramOpts{Namespace: namespace, Subsystem: "queue", Name: "message_age_seconds",
			Help:    "Time from an event's time to its message being received: queue lag.",
			Buckets: []float64{0.5, 1, 2, 5, 10, 20, 30, 60, 120, 300, 900}}),
		ReceiveErrors: prometheus.NewCounterVec(prometheus.CounterOpts{Namespace: namespace, Subsystem: "queue", Name: "api_errors_total",
			Help: "Failed SQS calls, by operation (receive, delete, change_visibility)."}, []string{"operation"}),
		Lookups: prometheus.NewCounterVec(prometheus.CounterOpts{Namespace: namespace, Subsystem: "queue", Name: "instance_lookups_total",
			Help: "Instance to node lookups, by how they were answered (index, describe_instances, not_found)."}, []string{"via"}),
		DrainsInFlight: prometheus.NewGauge(prometheus.GaugeOpts{Namespace: namespace, Name: "drains_in_flight",
			Help: "Drains running on a worker now."}),
		DrainsWaiting: prometheus.NewGauge(prometheus.GaugeOpts{Namespace: namespace, Name: "drains_waiting",
			Help: "Cordoned nodes waiting for a drain worker (most urgent deadline first)."}),
		Leader: prometheus.NewGauge(prometheus.GaugeOpts{Namespace: namespace, Name: "leader",
			Help: "1 while this controller replica is the leader and receives messages, else 0."}),
		NodeActors: prometheus.NewGauge(prometheus.GaugeOpts{Namespace: namespace, Name: "node_actors",
			Help: "Nodes the leader keeps a notice state machine for (each had a notice; forgotten once the node is gone, or idle, and no drain runs)."}),
	}
	reg.MustRegister(q.Messages, q.MessageAge, q.ReceiveErrors, q.Lookups, q.DrainsInFlight, q.DrainsWaiting, q.Leader, q.NodeActors)
	for _, t := range types {
		for _, o := range QueueOutcomes {
			q.Messages.WithLabelValues(t, o)
		}
	}
	for _, via := range []string{LookupIndex, LookupDescribe, LookupNotFound} {
		q.Lookups.WithLabelValues(via)
	}
	for _, op := range []string{"receive", "delete", "change_visibility"} {
		q.ReceiveErrors.WithLabelValues(op)
	}
	return q
}
