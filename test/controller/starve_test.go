package controller

import (
	"fmt"
	"strings"
	"testing"
	"time"

	policyv1 "k8s.io/api/policy/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/apimachinery/pkg/util/intstr"

	"github.com/spot-handler/spot-handler/pkg/drain"
)

// healthEvent is an AWS Health scheduled change for instance, starting at start.
func healthEvent(instance string, now, start time.Time, code string) string {
	return event("AWS Health Event", "aws.health", now, fmt.Sprintf(`{"eventArn":"arn:aws:health:us-east-1::event/EC2/AWS_EC2_INSTANCE_RETIREMENT_SCHEDULED/%s",`+
		`"service":"EC2","eventTypeCode":"AWS_EC2_INSTANCE_RETIREMENT_SCHEDULED","eventTypeCategory":"scheduledChange","startTime":%q,`+
		`"eventDescription":[{"language":"en_US","latestDescription":"retirement"}],"affectedEntities":[{"entityValue":%q}]}`,
		code, start.UTC().Format(time.RFC1123), instance))
}

// waitingNode makes in's pods wait for good once drained: a PDB that never
// allows a disruption covers them, and a pod of another ReplicaSet on the
// node is terminating with an hour to go (grace and kwok delay), so a drain
// with a far deadline has nothing to do but wait.
func (e *env) waitingNode(in instNode) {
	e.t.Helper()
	zero := intstr.FromInt32(0)
	app := "rs-" + strings.TrimPrefix(in.node, "q-")
	pdb := &policyv1.PodDisruptionBudget{ObjectMeta: metav1.ObjectMeta{Name: "never-" + app, Namespace: e.ns},
		Spec: policyv1.PodDisruptionBudgetSpec{MaxUnavailable: &zero, Selector: &metav1.LabelSelector{MatchLabels: map[string]string{"app": app}}}}
	if _, err := plane.Client.PolicyV1().PodDisruptionBudgets(e.ns).Create(e.ctx, pdb, metav1.CreateOptions{}); err != nil {
		e.t.Fatal(err)
	}
	stuck := "stuck-" + strings.TrimPrefix(in.node, "q-")
	if err := plane.PinnedReplicaSet(e.ctx, e.ns, stuck, in.node, 1, 3600, time.Hour); err != nil {
		e.t.Fatal(err)
	}
	if _, err := plane.Client.AppsV1().ReplicaSets(e.ns).Patch(e.ctx, stuck, types.MergePatchType, []byte(`{"spec":{"replicas":0}}`), metav1.PatchOptions{}); err != nil {
		e.t.Fatal(err)
	}
	waitUntil(e.t, 30*time.Second, "the stuck pod terminating", func() bool {
		pods, err := plane.Client.CoreV1().Pods(e.ns).List(e.ctx, metav1.ListOptions{LabelSelector: "app=" + stuck})
		return err == nil && len(pods.Items) == 1 && pods.Items[0].DeletionTimestamp != nil
	})
}

// TestStarvationStorm (issue #24 item 3): five AWS Health drains whose
// deadline is two weeks away and whose pods only wait (a PDB with
// maxUnavailable 0, a pod stuck terminating), then 20 Spot warnings for
// other nodes and two for Health nodes whose drains may still be queued
// (a restart): with one worker and with the default, every Spot node is
// empty before deadline − margin and every message is handled (no handler
// stuck behind a drain it stops).
func TestStarvationStorm(t *testing.T) {
	if testing.Short() {
		t.Skip("-short")
	}
	for _, tc := range []struct {
		name  string
		flags []string
	}{{"workers=1", []string{"--workers=1"}}, {"default", nil}} {
		t.Run(tc.name, func(t *testing.T) {
			r := starvationStorm(t, 20, tc.flags...)
			t.Logf("%d Spot nodes (and 2 Health nodes' restarts, in time: %v) with %d drains waiting: send → empty p50 %v, p99 %v; least spare %v",
				len(r.empty), r.allInTime, 5, percentile(r.empty, 50).Round(time.Millisecond), percentile(r.empty, 99).Round(time.Millisecond),
				r.slowestSpare.Round(time.Millisecond))
			if !r.allInTime {
				t.Errorf("Spot nodes empty after deadline − margin: %v", r.late)
			}
		})
	}
}

// starvationStorm runs the storm of TestStarvationStorm with spot Spot
// nodes and returns the Spot nodes' figures (message sent → empty).
func starvationStorm(tb testing.TB, spot int, flags ...string) stormResult {
	e := newEnv(tb, 30)
	health := e.nodes(5, 2, 5, 0)
	for _, in := range health {
		e.waitingNode(in)
	}
	spots := e.nodes(spot, 2, 10, 2*time.Second)
	time.Sleep(2 * time.Second) // the disruption controller computes the budgets
	c := e.controller("", flags...)
	now := time.Now()
	var bodies []string
	for i, in := range health {
		bodies = append(bodies, healthEvent(in.id, now, now.Add(14*24*time.Hour), fmt.Sprintf("S%d", i)))
	}
	e.send(bodies...)
	waitUntil(tb, 60*time.Second, "five Health drains started", func() bool {
		return c.metric("spot_handler_queue_messages_total", `outcome="handled"`) >= 5 && e.inQueue() == 0
	})
	time.Sleep(3 * time.Second) // their evictions refused, their pods waiting

	restarted := health[3:]
	names := make([]string, 0, spot+len(restarted))
	for _, in := range append(append([]instNode(nil), spots...), restarted...) {
		names = append(names, in.node)
	}
	o := observe(tb, e.ns, names)
	now = time.Now()
	bodies = nil
	for _, in := range spots {
		bodies = append(bodies, spotEvent(in.id, now))
	}
	for _, in := range restarted {
		bodies = append(bodies, spotEvent(in.id, now))
	}
	e.send(bodies...)
	// Each Spot node's deadline − margin is at most 2 min − 15 s away.
	waitUntil(tb, 2*time.Minute, "every Spot node empty", o.allEmpty)
	waitUntil(tb, 30*time.Second, "every message handled and deleted", func() bool {
		return c.metric("spot_handler_queue_messages_total", `outcome="handled"`) >= float64(5+len(bodies)) && e.inQueue() == 0
	})
	margin := drain.DefaultPolicy().Margin
	r := stormResult{allInTime: true, slowestSpare: time.Hour}
	for _, in := range append(append([]instNode(nil), spots...), restarted...) {
		n := e.notice(in.node)
		if n == nil || n.Kind != "SpotInterruption" {
			tb.Fatalf("node %s: record %+v, want the Spot warning's", in.node, n)
			return r
		}
		_, em := o.times(in.node)
		if n.Kind == "SpotInterruption" && !isIn(in, restarted) {
			r.empty = append(r.empty, em.Sub(now)) // the figures: Spot nodes with nothing blocking
		}
		spare := n.Deadline.Add(-margin).Sub(em)
		r.slowestSpare = min(r.slowestSpare, spare)
		if spare < 0 {
			r.allInTime = false
			r.late = append(r.late, fmt.Sprintf("%s (%v late)", in.node, -spare))
		}
	}
	return r
}

func isIn(in instNode, set []instNode) bool {
	for _, x := range set {
		if x.id == in.id {
			return true
		}
	}
	return false
}
