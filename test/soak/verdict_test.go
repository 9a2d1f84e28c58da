package soak

import (
	"fmt"
	"net/http"
	"slices"
	"strings"
	"time"

	"k8s.io/apimachinery/pkg/types"

	"github.com/spot-handler/spot-handler/internal/testenv"
)

// verdict checks the scenario's promises once it has settled.
func (r *run) verdict(notice time.Time) Outcome {
	goneBy := r.goneBy(notice)
	out := Outcome{Scenario: r.sc, Cordon: -1}
	pods := r.w.obs.podsOf(r.node)
	now := time.Now()
	var emptyAt time.Time
	var dsUIDs []types.UID
	for _, p := range pods {
		if p.DaemonSet {
			dsUIDs = append(dsUIDs, p.UID)
			if !p.Terminating.IsZero() || !p.Gone.IsZero() {
				out.Failures = append(out.Failures, fmt.Sprintf("DaemonSet pod %s/%s was deleted or evicted", p.Namespace, p.Name))
			}
			continue
		}
		out.MustLeave++
		gone := p.GoneAt(now)
		if gone.IsZero() || gone.After(goneBy) {
			if !r.sc.Withdrawn() {
				left := fmt.Sprintf("%s/%s", p.Namespace, p.Name)
				if !gone.IsZero() {
					left += fmt.Sprintf(" (gone %.1fs late)", gone.Sub(goneBy).Seconds())
				}
				out.Left = append(out.Left, left)
			}
			continue
		}
		if gone.After(emptyAt) {
			emptyAt = gone
		}
	}
	if r.sc.Withdrawn() {
		out.MustLeave = 0
	}
	if emptyAt.IsZero() {
		emptyAt = notice
	}
	out.Spare = goneBy.Sub(emptyAt)
	if n := r.w.obs.nodeOf(r.node); !n.Cordoned.IsZero() {
		out.Cordon = n.Cordoned.Sub(notice)
	}
	r.mu.Lock()
	unc := r.uncordoned
	r.mu.Unlock()
	if !unc.IsZero() && unc.Before(goneBy) && r.sc.Signal != StateChange {
		out.Failures = append(out.Failures, fmt.Sprintf("the node was schedulable again at +%.1fs, before deadline − margin, while its instance was still going away",
			unc.Sub(notice).Seconds()))
	}
	if r.sc.Withdrawn() && !r.w.obs.nodeOf(r.node).Schedulable {
		out.Failures = append(out.Failures, "the notice was withdrawn but the node is still cordoned or tainted")
	}
	out.Failures = append(out.Failures, r.touchedDaemonSets(dsUIDs)...)
	if r.agent != nil {
		out.Failures = append(out.Failures, r.agent.problems()...)
	}
	if r.sc.Signal == ASGHook {
		out.Failures = append(out.Failures, r.checkLifecycle(pods, len(out.Left) == 0)...)
	}
	r.mu.Lock()
	out.Notes = append(out.Notes, r.notes...)
	r.mu.Unlock()
	if out.Failed() {
		out.Notes = append(out.Notes, r.logExcerpt(out.Left)...)
	}
	return out
}

// logExcerpt is what the handlers logged about the node and the pods left
// (at most 40 lines), for the failure's description.
func (r *run) logExcerpt(left []string) []string {
	keys := []string{r.node}
	for _, l := range left {
		keys = append(keys, strings.Fields(l)[0][len(r.ns)+1:])
	}
	var logs []string
	if r.agent != nil {
		logs = append(logs, r.agent.allLogs())
	}
	if r.sc.Mode != Agent {
		for _, c := range r.w.ctrls {
			logs = append(logs, c.allLogs())
		}
	}
	var out []string
	for _, l := range logs {
		for _, line := range strings.Split(l, "\n") {
			for _, k := range keys {
				if strings.Contains(line, k) {
					out = append(out, "log: "+line)
					break
				}
			}
		}
	}
	if len(out) > 40 {
		out = append(out[:20:20], out[len(out)-20:]...)
	}
	return out
}

// touchedDaemonSets names the eviction or delete requests any handler
// sent for a DaemonSet pod of the node.
func (r *run) touchedDaemonSets(uids []types.UID) []string {
	var logs []testenv.Logged
	if r.api != nil {
		logs = append(logs, r.api.Requests()...)
	}
	for _, c := range r.w.ctrls {
		logs = append(logs, c.proxy.Requests()...)
	}
	var out []string
	for _, l := range logs {
		if l.UID != "" && slices.Contains(uids, l.UID) && (l.IsEviction() || l.Method == http.MethodDelete) {
			out = append(out, fmt.Sprintf("a handler sent %s %s for a DaemonSet pod", l.Method, l.Path))
		}
	}
	return out
}

// checkLifecycle checks the terminate action: completed CONTINUE only
// while the node was empty (pods may reach it later: the drain watches on
// and drains them, see "What 'empty' means"), and (if it emptied)
// completed at all.
func (r *run) checkLifecycle(pods []podSeen, emptied bool) []string {
	r.mu.Lock()
	token := r.token
	r.mu.Unlock()
	if token == "" {
		return []string{"the lifecycle action was never begun (see notes)"}
	}
	var completes []testenv.LifecycleCall
	var deadline time.Time
	for {
		calls, err := moto.LifecycleCalls()
		if err != nil {
			return []string{fmt.Sprintf("reading moto's lifecycle calls: %v", err)}
		}
		if deadline.IsZero() { // after the first answer: moto may have been paused
			deadline = time.Now().Add(30 * time.Second)
		}
		completes = completes[:0]
		for _, c := range calls {
			if c.Token == token && c.Action == "CompleteLifecycleAction" {
				completes = append(completes, c)
			}
		}
		if len(completes) > 0 || !emptied || time.Now().After(deadline) {
			break
		}
		time.Sleep(500 * time.Millisecond)
	}
	var out []string
	for _, c := range completes {
		if c.Result != "CONTINUE" || c.Error != "" {
			continue
		}
		if on := onNodeAt(pods, c.Time); len(on) > 0 {
			out = append(out, fmt.Sprintf("lifecycle action completed CONTINUE at %s while %d pod(s) that had to leave were still on the node (%s)",
				c.Time.Format(time.TimeOnly), len(on), strings.Join(on, ", ")))
		}
	}
	if emptied && len(completes) == 0 {
		out = append(out, "the node emptied but the lifecycle action was not completed within 30 s")
	}
	return out
}

// onNodeAt names the pods that had to leave and were on the node at t: bound
// before it and gone after it. The soak's informer sees a pod bound or gone
// a little after the API server did it: a second either way is not counted.
func onNodeAt(pods []podSeen, t time.Time) []string {
	var on []string
	for _, p := range pods {
		if p.DaemonSet || !p.Bound.Before(t.Add(-time.Second)) {
			continue
		}
		if gone := p.GoneAt(time.Now()); gone.IsZero() || gone.After(t.Add(time.Second)) {
			on = append(on, p.Namespace+"/"+p.Name)
		}
	}
	return on
}
