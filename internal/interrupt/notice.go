// Package interrupt is the life of the interruption notices of one node as a
// pure state machine. A [Machine] is a value: [Machine.Apply] takes an
// [Event] (a notice arrived, was updated or withdrawn, a drain ended, a
// handler panicked, a restart read the node, a rehearsal was set or cleared)
// and the time, and returns the [Action]s to carry out (start, restart or
// stop a drain, taint, uncordon, record an Event, send a webhook, keep the
// node as it is). It does no I/O and reads no clock, so every sequence is a
// table test.
//
// The notice type is source-neutral: the DaemonSet agent converts instance
// metadata notices, the queue-mode controller EventBridge messages, and
// `spot-handler rehearse` sets a rehearsal. The agent runs one Machine for
// its node; the controller runs one per node it handles. One goroutine owns
// each Machine and nothing else touches it.
//
// The states of a node, as [Machine.Phase] names them: Idle (nothing in
// force), Resuming (a restart found marks on the node that no source has
// confirmed yet), Tainted (a taint-only notice in force), Draining (a drain
// running) and Drained (the drain ended; the node stays cordoned while its
// notice is in force).
package interrupt

import "time"

// Kind names the signal a [Notice] carries. The values are those of
// pkg/imds, and of the Kubernetes taint and metric labels built from them.
type Kind string

// The kinds. A Spot interruption is final for the life of the instance; a
// maintenance event may be canceled; rebalance and ASG notices carry no time.
const (
	SpotInterruption        Kind = "SpotInterruption"        // terminate, stop or hibernate at the deadline
	RebalanceRecommendation Kind = "RebalanceRecommendation" // elevated risk of interruption
	ScheduledMaintenance    Kind = "ScheduledMaintenance"    // reboot, stop or retirement, not before the deadline
	ASGTermination          Kind = "ASGTermination"          // target lifecycle state Terminated
	// InstanceStateChange: EC2 says the instance is stopping, shutting down,
	// stopped or terminated (queue mode). The instance is going away now; its
	// node is always drained, like a Spot interruption.
	InstanceStateChange Kind = "InstanceStateChange"
)

// Source says where a notice came from.
type Source string

// The sources.
const (
	// SourceIMDS is the node's instance metadata (the agent).
	SourceIMDS Source = "imds"
	// SourceQueue is an EventBridge message from SQS (the controller).
	SourceQueue Source = "sqs"
	// SourceRehearsal is the node's rehearsal annotation
	// (`spot-handler rehearse`). A real notice always wins over it.
	SourceRehearsal Source = "rehearsal"
)

// Notice is one interruption signal for the machine's node.
type Notice struct {
	// Kind is the signal's type.
	Kind Kind
	// ID identifies this version of the signal; a changed signal (a Spot
	// notice whose time moved) has a new ID and the same Kind.
	ID string
	// Action is the source's word for what happens (terminate, stop,
	// hibernate, system-reboot, Terminated); "" for a rebalance.
	Action string
	// Deadline is when the instance goes away, or zero when the source gives
	// no time (rebalance, ASG): the machine then chooses one, once.
	Deadline time.Time
	// Detected is when the source first saw the notice.
	Detected time.Time
	// Source is where it came from.
	Source Source
	// Description is human text, such as a maintenance event's description.
	Description string
	// Data is opaque source data (e.g. an ASG lifecycle hook's name and
	// token): the machine never reads it and hands it back in actions.
	Data map[string]string
}

// Response is what the policy says to do about a kind of notice.
type Response string

// The responses.
const (
	// Ignore counts and reports the notice and leaves the node alone.
	Ignore Response = "ignore"
	// TaintOnly adds a PreferNoSchedule taint: new pods avoid the node,
	// running pods stay.
	TaintOnly Response = "taint"
	// DrainNode cordons, taints and drains the node.
	DrainNode Response = "drain"
)

// DefaultDeadline is the deadline given to a notice whose source gives no
// time (an ASG Terminated state, a rebalance recommendation set to drain):
// AWS's Spot notice length, the shortest any reclaim gives.
const DefaultDeadline = 2 * time.Minute

// DefaultMaxRestarts bounds how often a drain that panicked is started again.
const DefaultMaxRestarts = 3

// Config is the policy of a Machine.
type Config struct {
	// Rebalance, Maintenance and ASG say what to do about each kind; Spot
	// interruptions, instance state changes and rehearsals are always
	// drained. "" means Ignore.
	Rebalance, Maintenance, ASG Response
	// DefaultDeadline is the time after detection given to a notice without
	// a deadline; 0 means [DefaultDeadline].
	DefaultDeadline time.Duration
	// Margin is how long before the deadline the node must be empty; a
	// drain whose deadline is already inside it is marked Late.
	Margin time.Duration
	// MaxRestarts bounds restarts of a drain that panicked; 0 means
	// [DefaultMaxRestarts], negative means never restart.
	MaxRestarts int
	// ResumeRecorded takes the notice a restart found on the node as in
	// force at once and resumes its drain (for a source that does not repeat
	// notices, such as a queue). When false, the recorded notice waits for
	// its source to deliver it again, and is undone when its source reports
	// [Synced] for its kind without it; but a final interruption (Spot, ASG
	// terminate, state change; not a rehearsal) whose deadline is still
	// ahead is resumed at once and never undone.
	ResumeRecorded bool
	// MaintenanceLead, if not zero, holds the drain of a scheduled
	// maintenance notice until its deadline less MaintenanceLead: the node
	// is cordoned and drained then, not when the notice arrives (weeks
	// before). The owner wakes the machine ([Woke]) at [Machine.Wake].
	MaintenanceLead time.Duration
	// RebalanceTaintTTL, if not zero, ends a taint-only rebalance
	// recommendation this long after it was detected: the taint is removed.
	RebalanceTaintTTL time.Duration
}

// ResponseTo is the policy's response to a notice of kind k from source s.
func (c Config) ResponseTo(k Kind, s Source) Response {
	if s == SourceRehearsal {
		return DrainNode
	}
	var r Response
	switch k {
	case SpotInterruption, InstanceStateChange:
		return DrainNode
	case RebalanceRecommendation:
		r = c.Rebalance
	case ScheduledMaintenance:
		r = c.Maintenance
	case ASGTermination:
		r = c.ASG
	}
	if r == "" {
		return Ignore
	}
	return r
}

// Recorded is the notice a previous process recorded on the node (the
// node's notice annotation), as read at start-up.
type Recorded struct {
	// Kind, ID and Action are the recorded notice's.
	Kind   Kind
	ID     string
	Action string
	// Source is where the recorded notice came from (the agent tells a
	// rehearsal by its ID).
	Source Source
	// Deadline is the deadline the previous process chose: a restarted
	// process keeps it.
	Deadline time.Time
	// Detected is when the notice was first seen.
	Detected time.Time
	// TaintOnly is true when the node was only tainted, not cordoned.
	TaintOnly bool
}
