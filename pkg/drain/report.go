package drain

import (
	"fmt"
	"sort"
	"time"

	"k8s.io/apimachinery/pkg/types"
)

// Outcome is what became of one pod. The values are the agent's
// spot_handler_pods_total outcome label.
type Outcome string

// The pod outcomes.
const (
	// Evicted: the eviction API accepted it and the pod was gone in time.
	Evicted Outcome = "evicted"
	// DeletedAfterCutoff: its PDB refused eviction until the cut-off, so it
	// was deleted with a grace period (PDBFallback delete).
	DeletedAfterCutoff Outcome = "deleted_after_pdb_cutoff"
	// GoneBeforeEviction: it went away, or was already terminating, before
	// the drain evicted it.
	GoneBeforeEviction Outcome = "gone_before_eviction"
	// DeletedAfterRefusal: its eviction was refused for a reason other than
	// a PDB (an admission webhook or policy, a pod under two PDBs) or kept
	// failing until the cut-off, so it was deleted with a grace period
	// (PDBFallback delete); PodResult.Refusal has the API's words.
	DeletedAfterRefusal Outcome = "deleted_after_eviction_refused"
	// RunningAtDeadline: it was still on the node at deadline − margin; the
	// reason says why (PDB, eviction error, still terminating).
	RunningAtDeadline Outcome = "running_at_deadline"
)

// Starter says who started a pod's termination. Whoever did, the drain
// cuts the pod's grace as it caps its own evictions', so the pod is gone
// before deadline − margin.
type Starter string

// The starters.
const (
	// ByDrain: this drain's eviction or deletion.
	ByDrain Starter = "drain"
	// ByOtherBeforePlan: someone else, before the drain planned (the pod
	// was terminating in the drain's first list of the node's pods).
	ByOtherBeforePlan Starter = "other_before_plan"
	// ByOtherAfterPlan: someone else, after the plan: a NoExecute taint's
	// eviction, a namespace deletion, a rollout scaling down, a person,
	// another drain of this node.
	ByOtherAfterPlan Starter = "other_after_plan"
)

// words says who started a termination, for people.
func (s Starter) words() string {
	switch s {
	case ByDrain:
		return "this drain"
	case ByOtherBeforePlan:
		return "someone else, before the drain planned"
	case ByOtherAfterPlan:
		return "someone else, after the drain planned"
	}
	return "no one seen"
}

// PodResult is the fate of one pod the drain had to move: one of its plan,
// or one that reached the node later.
type PodResult struct {
	Namespace, Name string
	// UID identifies the pod, for Events about it.
	UID types.UID
	// Priority is the pod's priority; lower priorities were evicted first.
	Priority int32
	// Grace is the grace period given, in seconds (0 if never evicted).
	Grace int64
	// Outcome and Reason say what happened and why, in words for people.
	Outcome Outcome
	Reason  string
	// PDB names the disruption budget that refused its eviction, if any.
	PDB string
	// Refusal is the API's message when it refused the eviction for a
	// reason other than a PDB (an admission webhook or policy, RBAC, a pod
	// under two PDBs), if it did.
	Refusal string
	// TerminatedBy says who started its termination ("" if no one was
	// seen to: it left or finished without being seen terminating).
	TerminatedBy Starter
	// Arrived is when the drain first saw a pod that was not on the node
	// when it planned (zero for the plan's pods); see Report.Late.
	Arrived time.Time
	// Attempts counts eviction requests made for it.
	Attempts int
	// Accepted is when its eviction or deletion was accepted; Gone when it
	// left the node. Either may be zero.
	Accepted, Gone time.Time
	// Warning is what the pod loses by going (emptyDir data, no controller).
	Warning string
}

// SkippedPod is a pod on the node the drain left alone, with the reason.
type SkippedPod struct {
	Namespace, Name, Reason string
}

// Report is the result of one drain: every pod of the plan with its
// outcome, the pods left alone, and the drain's milestones.
type Report struct {
	// Node, Kind and Deadline are the Request's.
	Node     string
	Kind     string
	Deadline time.Time
	// Margin is how long before Deadline the node had to be empty.
	Margin time.Duration
	// Started is when Drain began; Cordoned when the node was marked.
	Started, Cordoned time.Time
	// Unmarked, if not empty, is the API's refusal (a 403) to cordon and
	// taint the node: the drain went on without the mark (Cordoned zero).
	Unmarked string
	// AllAccepted is when the last eviction or deletion was accepted.
	AllAccepted time.Time
	// Emptied is the first moment every pod that had to leave was gone and
	// none was undecided (zero if that never happened). With
	// Request.OnEmpty the drain went on watching the node after it.
	Emptied time.Time
	// Finished is when waiting stopped: when the node was first empty, or,
	// with Request.OnEmpty, at deadline − margin (or when ctx ended).
	Finished time.Time
	// Empty is true if at Finished every pod that had to leave (the plan's
	// and those that reached the node later) was gone and no pod was left
	// undecided.
	Empty bool
	// Pods is the plan, in eviction order, then the pods that reached the
	// node later; Skipped the pods left alone; Undecided the pods kubectl's
	// filters could not decide on by Finished (their DaemonSet could not
	// be read), which keep Empty false.
	Pods      []PodResult
	Skipped   []SkippedPod
	Undecided []SkippedPod
	// Resumed is true when this drain continues one started before it: the
	// node carried this notice recorded by another process (an agent
	// restarted mid-drain, another leader; see NodeNotice.By), or a drain of
	// it by this Drainer ended before (it panicked or was stopped). The
	// caller's own Cordon just before Drain does not make it resumed.
	Resumed bool
	// OtherDrainer names the holder of another drain of this node (see
	// ClaimAnnotation) that evicted the pods while this one only watched;
	// "" when this drain evicted them.
	OtherDrainer string
	// Err is the error that ended the drain, nil when the node emptied:
	// ErrDeadline (wrapped, with the count of pods left and the last API
	// failure, if any) when time ran out; the lasting failure when the
	// node could not be cordoned or its pods listed (the node is gone,
	// access is forbidden, or the API failed until the deadline); ctx's
	// error, wrapped, when the caller stopped the drain. Drain returns it
	// too, except for ErrDeadline.
	Err error
}

// MissedDeadline reports whether pods were still on the node when the
// drain stopped waiting: at deadline − margin, or, for a notice that came
// too late for that, a few seconds after it (see waitEnd).
func (r *Report) MissedDeadline() bool { return !r.Empty }

// Spare is how long before deadline − margin the node was first empty
// (about zero or negative if it never was).
func (r *Report) Spare() time.Duration {
	at := r.Emptied
	if at.IsZero() {
		at = r.Finished
	}
	return r.Deadline.Add(-r.Margin).Sub(at)
}

// Late returns the pods that reached the node once it had been empty
// (while the drain watched it, see Request.OnEmpty).
func (r *Report) Late() []PodResult {
	var out []PodResult
	for _, p := range r.Pods {
		if !r.Emptied.IsZero() && !p.Arrived.IsZero() && !p.Arrived.Before(r.Emptied) {
			out = append(out, p)
		}
	}
	return out
}

// TerminatedByOthers counts the pods whose termination someone else
// started.
func (r *Report) TerminatedByOthers() int {
	n := 0
	for _, p := range r.Pods {
		if p.TerminatedBy == ByOtherBeforePlan || p.TerminatedBy == ByOtherAfterPlan {
			n++
		}
	}
	return n
}

// AcceptedAfter is how long after t the last eviction or deletion was
// accepted, and false when none was (AllAccepted is zero: log no duration
// then, not a huge negative one).
func (r *Report) AcceptedAfter(t time.Time) (time.Duration, bool) {
	if r.AllAccepted.IsZero() {
		return 0, false
	}
	return r.AllAccepted.Sub(t), true
}

// Counts returns the number of pods per outcome.
func (r *Report) Counts() map[Outcome]int {
	m := map[Outcome]int{}
	for _, p := range r.Pods {
		m[p.Outcome]++
	}
	return m
}

// Blocking returns the pods still running at the deadline, by name.
func (r *Report) Blocking() []PodResult {
	var out []PodResult
	for _, p := range r.Pods {
		if p.Outcome == RunningAtDeadline {
			out = append(out, p)
		}
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Namespace+"/"+out[i].Name < out[j].Namespace+"/"+out[j].Name })
	return out
}

// Summary is one line for people: how many pods went how, and which did not.
func (r *Report) Summary() string {
	c := r.Counts()
	s := fmt.Sprintf("node %s: %d pods: %d evicted, %d deleted after PDB cut-off, %d gone before eviction, %d running at deadline",
		r.Node, len(r.Pods), c[Evicted], c[DeletedAfterCutoff], c[GoneBeforeEviction], c[RunningAtDeadline])
	if n := c[DeletedAfterRefusal]; n > 0 {
		s += fmt.Sprintf(", %d deleted after their eviction was refused", n)
	}
	if n := r.TerminatedByOthers(); n > 0 {
		s += fmt.Sprintf("; %d terminated by someone else", n)
	}
	if !r.Emptied.IsZero() {
		s += fmt.Sprintf("; empty %.1fs before deadline-margin", r.Spare().Seconds())
	}
	if late := r.Late(); len(late) > 0 {
		s += fmt.Sprintf("; %d pods reached the node after it was empty", len(late))
	}
	if r.Empty {
		return s
	}
	left := r.Blocking()
	for _, u := range r.Undecided {
		left = append(left, PodResult{Namespace: u.Namespace, Name: u.Name, Reason: u.Reason})
	}
	for i, p := range left {
		if i == 3 {
			s += fmt.Sprintf("; and %d more", len(left)-3)
			break
		}
		s += fmt.Sprintf("; %s/%s: %s", p.Namespace, p.Name, p.Reason)
	}
	return s
}
