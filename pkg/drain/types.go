package drain

import (
	"context"
	"time"

	corev1 "k8s.io/api/core/v1"
)

// Keys of what this package writes on a node. They are a contract: a
// restarted agent and `spot-handler rehearse` read them.
const (
	// TaintKey is the taint put on a node that is being drained; its value
	// is the notice kind.
	TaintKey = "spot-handler.io/interruption"
	// NoticeAnnotation holds the notice as JSON (see NodeNotice).
	NoticeAnnotation = "spot-handler.io/notice"
	// AddedAnnotation lists what the drain added to the node
	// (comma-separated: unschedulable, taint, label), so Uncordon removes
	// only those.
	AddedAnnotation = "spot-handler.io/added"
	// DefaultExcludeLabel keeps external load balancers off a draining node.
	DefaultExcludeLabel = "node.kubernetes.io/exclude-from-external-load-balancers"
)

// Request says which node to drain, why and by when.
type Request struct {
	// Node is the Kubernetes node name.
	Node string
	// Kind is the notice kind (e.g. SpotInterruption); it is the taint's value.
	Kind string
	// Action is the notice's action (terminate, stop, ...), for the record.
	Action string
	// NoticeID identifies the notice, so a resumed drain knows it is the same.
	NoticeID string
	// Deadline is when the instance goes away. Everything is timed from it.
	Deadline time.Time
	// Detected is when the notice was first seen; zero means now.
	Detected time.Time
	// OnEmpty, if not nil, keeps the drain going after the node is first
	// empty: Drain calls it then, once, on the drain's goroutine, with the
	// report of that moment (Empty true, Emptied and Finished set to it),
	// and goes on watching the node until deadline − margin, draining every
	// pod that reaches it by the same rules, until ctx ends. A caller that
	// acts on "empty" (completes an ASG lifecycle action, frees a worker)
	// acts here, not when Drain returns; OnEmpty should return quickly.
	// Nil: Drain returns at the first moment the node is empty.
	OnEmpty func(*Report)
	// Source is the source that holds the notice (SourceIMDS, SourceQueue
	// or SourceRehearsal), recorded in NodeNotice.Source; "" is told by
	// NoticeID, as SourceOf tells a record's (the agent's, unless the ID is
	// a queue's or a rehearsal's), so a request and the record it writes
	// always name the same side.
	Source string
	// Gate, if not nil, is the caller's worker, held when Drain is called:
	// Drain gives it back (Release) once its evictions are planned and
	// started and every pod left only waits (a PodDisruptionBudget's
	// refusal until the next retry, a termination under way), and takes it
	// again (Acquire) before each eviction, deletion or grace cut, so a
	// drain that only waits holds no worker of the caller's.
	Gate Gate

	recorder string // set by the Drainer: its NodeNotice.By
}

// Gate is a worker a drain holds while it acts (see Request.Gate).
type Gate interface {
	// Acquire waits for the worker; false if ctx ended first.
	Acquire(ctx context.Context) bool
	// Release gives it back.
	Release()
}

// PDBFallback says what to do with a pod whose PDB still refuses eviction
// at its cut-off.
type PDBFallback string

// The PDB fallbacks.
const (
	// FallbackDelete deletes the pod with its (capped) grace period at the
	// cut-off: the instance dies anyway, and a SIGTERM beats a hard kill.
	FallbackDelete PDBFallback = "delete"
	// FallbackWait keeps asking for the eviction until deadline − margin and
	// reports the pod as running at the deadline if the PDB never allows it.
	FallbackWait PDBFallback = "wait"
)

// Policy tunes a drain. The zero value is not valid; use DefaultPolicy.
type Policy struct {
	// Margin is how long before the deadline the node must be empty.
	Margin time.Duration
	// PDBFallback applies at a PDB-blocked pod's cut-off.
	PDBFallback PDBFallback
	// TaintEffect is the effect of TaintKey (NoSchedule, PreferNoSchedule
	// or NoExecute).
	TaintEffect corev1.TaintEffect
	// ExcludeLabel, if not empty, is set to "true" on the node while it drains.
	ExcludeLabel string
	// SelfNamespace and SelfName name the agent's own pod, never evicted.
	SelfNamespace, SelfName string
	// KillSlack is how long a node takes, after a pod's grace period ends,
	// to kill it and remove the pod object (kubelet SIGKILL, status update,
	// API delete); grace periods end this much before deadline − margin.
	// Measured: about 1s for 110 pods on one node (see `make bench`).
	KillSlack time.Duration
	// MinGrace is the shortest grace period given to a pod (at least 1s: the
	// API turns 0 into a forced delete).
	MinGrace time.Duration
	// WaveGap is the longest a priority wave waits for its evictions to be
	// answered before the next wave starts.
	WaveGap time.Duration
	// LateWindow is how long a drain whose notice came too late to empty
	// the node before deadline − margin (an instance already going) keeps
	// removing its pods, every step retried, each pod with the shortest
	// grace; 0 = just long enough for one such grace (MinGrace + KillSlack
	// + 1s).
	LateWindow time.Duration
	// Parallelism bounds eviction requests in flight.
	Parallelism int
	// Order is the order of eviction: OrderPriority (also "") or OrderNone.
	Order Order
}

// DefaultPolicy is the policy behind the agent's default flags.
func DefaultPolicy() Policy {
	return Policy{
		Margin:       15 * time.Second,
		PDBFallback:  FallbackDelete,
		TaintEffect:  corev1.TaintEffectNoSchedule,
		ExcludeLabel: DefaultExcludeLabel,
		KillSlack:    2 * time.Second,
		MinGrace:     time.Second,
		WaveGap:      250 * time.Millisecond,
		Parallelism:  64,
		Order:        OrderPriority,
	}
}

// Interface is what the agent needs to act on its node. Drainer changes the
// cluster; DryRun only logs what it would do.
type Interface interface {
	// Cordon marks the node unschedulable, taints, labels and annotates it.
	// It is idempotent.
	Cordon(ctx context.Context, req Request) error
	// Drain cordons the node, then evicts its pods and waits for them until
	// deadline − margin, and reports each pod.
	Drain(ctx context.Context, req Request) (*Report, error)
	// Taint adds TaintKey with effect PreferNoSchedule and the notice, and
	// neither cordons nor evicts (a rebalance recommendation).
	Taint(ctx context.Context, req Request) error
	// Uncordon withdraws source's side's notice from the node's record; if
	// no other side holds one, it removes what Cordon added, and only that,
	// and returns nil; else it leaves the node marked and returns the notice
	// that holds it. It removes only its own drain claim.
	Uncordon(ctx context.Context, node, source string) (*NodeNotice, error)
	// Notice returns the notice recorded on the node, or nil if none.
	Notice(ctx context.Context, node string) (*NodeNotice, error)
}
