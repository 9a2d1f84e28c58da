package soak

import (
	"fmt"
	"math/rand/v2"
	"time"
)

// Mode is which handler learns of a node's notice.
type Mode string

// The modes a scenario runs in.
const (
	// Agent: the node's own agent polls IMDS (AEMM behind a fault proxy).
	Agent Mode = "agent"
	// Controller: the controller pair reads EventBridge messages from SQS.
	Controller Mode = "controller"
	// Both: the agent sees a Spot notice in IMDS and the controller its
	// warning on the queue.
	Both Mode = "both"
)

// Signal is what tells the handler the instance is going.
type Signal string

// Agent signals (IMDS) and queue signals (EventBridge on SQS).
const (
	Spot                Signal = "spot"                 // IMDS spot/instance-action
	RebalanceThenSpot   Signal = "rebalance-then-spot"  // IMDS rebalance, the interruption 10-30 s later
	Maintenance         Signal = "maintenance"          // IMDS events/maintenance/scheduled, active
	MaintenanceCanceled Signal = "maintenance-canceled" // the same, canceled 10-30 s later: the notice is withdrawn
	ASGTerminated       Signal = "asg-terminated"       // IMDS autoscaling/target-lifecycle-state Terminated
	SpotWarning         Signal = "spot-warning"         // EC2 Spot Instance Interruption Warning
	StateChange         Signal = "state-change"         // EC2 Instance State-change Notification (stopping, shutting-down)
	ASGHook             Signal = "asg-terminate-hook"   // EC2 Instance-terminate Lifecycle Action, held by a hook
	HealthChange        Signal = "health-scheduled"     // AWS Health scheduled change
	SpotEverywhere      Signal = "spot-imds-and-queue"  // mode both: IMDS and the queue
	noticeLead                 = 2 * time.Minute        // a Spot notice's warning, AWS's two minutes
	stateChangeBudget          = 60 * time.Second       // state changes: the deadline has passed; pods must be gone this soon
	lifecycleMaxDrain          = 2 * time.Minute        // the soak's controllers run --lifecycle-max-drain=2m
	agentASGWindow             = 2 * time.Minute        // the agent's deadline for an ASG Terminated state (interrupt.DefaultDeadline)
	maxReplicas                = 40
	settleQuiet                = 5 * time.Second // a node counts as settled after this long empty
)

// PDB is the disruption budget of a Deployment.
type PDB string

// The PDB choices.
const (
	NoPDB           PDB = "none"
	MaxUnavailable0 PDB = "maxUnavailable=0"
	MaxUnavailable1 PDB = "maxUnavailable=1"
	MinAvailableAll PDB = "minAvailable=replicas"
	TwoPDBs         PDB = "two-overlapping"
)

// Deployment is one Deployment of a scenario's workload.
type Deployment struct {
	Replicas int
	Grace    int // seconds; every pod uses all of it
	PDB      PDB
	Priority string // a PriorityClass name, "" for none
}

// Workload is what runs on a scenario's node.
type Workload struct {
	Deployments []Deployment
	BarePods    int  // pods with no owner and an emptyDir volume
	StatefulSet int  // replicas of a StatefulSet, 0 for none
	DaemonSet   bool // a DaemonSet pod that must stay
	LatePods    int  // bare pods bound to the node 1-10 s after the notice
	Deleted     int  // pods someone else deletes 2-20 s after the notice
	Room        bool // replacements may schedule on the stable nodes
}

// Pods is how many pods must leave the node at the notice (late pods come on top).
func (w Workload) Pods() int {
	n := w.BarePods + w.StatefulSet
	for _, d := range w.Deployments {
		n += d.Replicas
	}
	return n
}

// APIFault is a fault on the handler's API connection, scoped to the
// scenario's node and namespace.
type APIFault struct {
	Kind   string        // list-503, evict-500, evict-429, patch-hang, burst-503, watch-cut
	At     time.Duration // after the notice
	For    time.Duration // how long it lasts (list-503: Times instead)
	Times  int
	Status int
}

// IMDSFault is a fault of the agent's instance metadata for a while.
type IMDSFault struct {
	Kind string        // 503, 500, 429, 401, hang, reset
	At   time.Duration // after the notice (negative: before it)
	For  time.Duration
}

// ProcFault is something done to the agent process.
type ProcFault struct {
	Kind    string        // kill (SIGKILL, restart after Restart), stop (SIGSTOP, SIGCONT after For)
	At      time.Duration // after the notice
	Restart time.Duration // kill: restart this long after
	For     time.Duration // stop: continue after
}

// QueueExtras are delivery quirks of queue-mode signals.
type QueueExtras struct {
	Duplicates     int  // extra copies of the message, 0-10 s later
	OutOfOrder     bool // an older rebalance recommendation arrives after the notice
	RebalanceAfter bool // a newer rebalance recommendation arrives after the notice
}

// Scenario is one node's draw: its workload, signal, mode and faults.
type Scenario struct {
	Seed       uint64
	Wave, Node int
	Mode       Mode
	Signal     Signal
	Jitter     time.Duration // the notice comes this long after the wave's start
	StateName  string        // state-change: stopping or shutting-down
	Workload   Workload
	API        []APIFault
	IMDS       []IMDSFault
	Proc       []ProcFault
	Queue      QueueExtras
}

// ID is the scenario's place in the soak, as ONLY takes it: "wave:node".
func (s Scenario) ID() string { return fmt.Sprintf("%d:%d", s.Wave, s.Node) }

// Withdrawn reports whether the notice is taken back (the node must be
// schedulable again, and no pod has to leave).
func (s Scenario) Withdrawn() bool { return s.Signal == MaintenanceCanceled }

// GoneBy is when every pod that must leave has to be gone, for a notice
// that appeared at notice, with the handlers' drain margin: the deadline
// minus the margin; for a state change (its deadline already passed) the
// soak's stated budget after the message.
func (s Scenario) GoneBy(notice time.Time, margin time.Duration) time.Time {
	if s.Signal == StateChange {
		return notice.Add(stateChangeBudget)
	}
	return s.Deadline(notice).Add(-margin)
}

// Visible is when the notice could first be read from instance metadata:
// notice, or the end of an IMDS fault in force then. An ASG target
// lifecycle state carries no time of its own: the agent's 2-minute window
// counts from here.
func (s Scenario) Visible(notice time.Time) time.Time {
	v := notice
	for _, f := range s.IMDS {
		from, to := notice.Add(f.At), notice.Add(f.At+f.For)
		if !from.After(v) && to.After(v) {
			v = to
		}
	}
	return v
}

// LastAction is how long after the notice the scenario's last drawn
// action (a fault, a late pod, a deletion by someone else) can happen:
// the scenario is played at least that long.
func (s Scenario) LastAction() time.Duration {
	last := 12 * time.Second // late pods come within 10 s, deletions by others within 20 s
	if s.Workload.Deleted > 0 {
		last = 22 * time.Second
	}
	for _, f := range s.API {
		last = max(last, f.At+f.For)
	}
	for _, f := range s.IMDS {
		last = max(last, f.At+f.For)
	}
	for _, f := range s.Proc {
		last = max(last, f.At+f.Restart+f.For+5*time.Second)
	}
	return last
}

// Deadline is when the instance goes, for a notice that appeared at notice.
func (s Scenario) Deadline(notice time.Time) time.Time {
	switch s.Signal {
	case RebalanceThenSpot:
		return notice.Add(noticeLead) // notice is the interruption's, after the rebalance
	case ASGHook:
		return notice.Add(lifecycleMaxDrain)
	case ASGTerminated:
		return notice.Add(agentASGWindow)
	case StateChange:
		return notice
	default:
		return notice.Add(noticeLead)
	}
}

// Rand is the generator of one draw: the same seed, wave and node give the
// same scenario, whatever else the soak runs.
func Rand(seed uint64, wave, node int) *rand.Rand {
	return rand.New(rand.NewPCG(seed, uint64(wave)<<20|uint64(node)+1))
}

// Limits bound a draw; Faults false draws no fault of any kind (the
// no-fault control).
type Limits struct {
	Faults bool
}

// Draw draws node's scenario in wave from seed.
func Draw(seed uint64, wave, node int, lim Limits) Scenario {
	r := Rand(seed, wave, node)
	s := Scenario{Seed: seed, Wave: wave, Node: node}
	s.Mode = pick(r, []Mode{Agent, Agent, Controller, Controller, Both})
	switch s.Mode {
	case Agent:
		s.Signal = pick(r, []Signal{Spot, Spot, RebalanceThenSpot, Maintenance, MaintenanceCanceled, ASGTerminated})
	case Controller:
		s.Signal = pick(r, []Signal{SpotWarning, SpotWarning, StateChange, ASGHook, ASGHook, HealthChange})
	default:
		s.Signal = SpotEverywhere
	}
	if s.Signal == StateChange {
		s.StateName = pick(r, []string{"stopping", "shutting-down"})
	}
	s.Jitter = time.Duration(r.IntN(5000)) * time.Millisecond
	s.Workload = drawWorkload(r)
	if s.Mode != Agent {
		s.Queue = QueueExtras{Duplicates: pick(r, []int{0, 0, 0, 1, 2}), OutOfOrder: r.IntN(4) == 0, RebalanceAfter: r.IntN(4) == 0}
	}
	if !lim.Faults {
		return s
	}
	s.API = drawAPIFaults(r)
	if s.Mode != Controller {
		s.IMDS = drawIMDSFaults(r)
		s.Proc = drawProcFaults(r)
	}
	return s
}

func drawWorkload(r *rand.Rand) Workload {
	var w Workload
	for range 1 + r.IntN(2) {
		d := Deployment{Replicas: drawReplicas(r), Grace: pick(r, []int{0, 5, 30, 30, 90, 600}),
			PDB:      pick(r, []PDB{NoPDB, NoPDB, MaxUnavailable0, MaxUnavailable1, MinAvailableAll, TwoPDBs}),
			Priority: pick(r, []string{"", "", "soak-batch", "soak-web", "soak-critical"})}
		w.Deployments = append(w.Deployments, d)
	}
	w.BarePods = pick(r, []int{0, 0, 1, 2})
	w.StatefulSet = pick(r, []int{0, 0, 1, 2})
	w.DaemonSet = r.IntN(3) > 0
	w.LatePods = pick(r, []int{0, 0, 1, 3})
	w.Deleted = pick(r, []int{0, 0, 1, 2})
	w.Room = r.IntN(4) > 0
	return w
}

// drawReplicas is 1-40, mostly small, as real Deployments are per node.
func drawReplicas(r *rand.Rand) int {
	switch x := r.IntN(20); {
	case x < 10:
		return 1 + r.IntN(5)
	case x < 17:
		return 6 + r.IntN(15)
	default:
		return 21 + r.IntN(maxReplicas-20)
	}
}

func drawAPIFaults(r *rand.Rand) []APIFault {
	var out []APIFault
	at := func(lo, hi int) time.Duration { return time.Duration(lo*1000+r.IntN((hi-lo)*1000)) * time.Millisecond }
	if r.IntN(3) == 0 {
		out = append(out, APIFault{Kind: "list-503", Times: 3 + r.IntN(6), Status: 503})
	}
	if r.IntN(3) == 0 {
		k := pick(r, []string{"evict-500", "evict-429"})
		st := map[string]int{"evict-500": 500, "evict-429": 429}[k]
		out = append(out, APIFault{Kind: k, At: at(0, 10), For: at(5, 20), Status: st})
	}
	if r.IntN(4) == 0 {
		out = append(out, APIFault{Kind: "patch-hang", At: 0, For: at(5, 15)})
	}
	if r.IntN(4) == 0 {
		out = append(out, APIFault{Kind: "burst-503", At: at(0, 20), For: 5 * time.Second, Status: 503})
	}
	if r.IntN(4) == 0 {
		out = append(out, APIFault{Kind: "watch-cut", At: at(0, 10), For: at(10, 30)})
	}
	return out
}

func drawIMDSFaults(r *rand.Rand) []IMDSFault {
	if r.IntN(2) == 0 {
		return nil
	}
	return []IMDSFault{{Kind: pick(r, []string{"503", "500", "429", "401", "hang", "reset"}),
		At:  time.Duration(-10000+r.IntN(30000)) * time.Millisecond,
		For: time.Duration(5000+r.IntN(15000)) * time.Millisecond}}
}

func drawProcFaults(r *rand.Rand) []ProcFault {
	switch r.IntN(5) {
	case 0:
		return []ProcFault{{Kind: "kill", At: time.Duration(2000+r.IntN(28000)) * time.Millisecond,
			Restart: time.Duration(1000+r.IntN(2000)) * time.Millisecond}}
	case 1:
		return []ProcFault{{Kind: "stop", At: time.Duration(1000+r.IntN(20000)) * time.Millisecond, For: 5 * time.Second}}
	}
	return nil
}

func pick[T any](r *rand.Rand, xs []T) T { return xs[r.IntN(len(xs))] }
