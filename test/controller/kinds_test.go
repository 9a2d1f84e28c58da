package controller

import (
	"fmt"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	policyv1 "k8s.io/api/policy/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/util/intstr"

	"github.com/spot-handler/spot-handler/pkg/drain"
)

// TestHealthScheduledChange: an AWS Health scheduled change naming two
// instances drains both nodes, each with the change's start time as its
// deadline.
func TestHealthScheduledChange(t *testing.T) {
	e := newEnv(t, 30)
	ins := e.nodes(2, 1, 5, 0)
	c := e.controller("")
	start := time.Now().Add(10 * time.Minute).UTC().Truncate(time.Second)
	detail := fmt.Sprintf(`{"eventArn":"arn:aws:health:us-east-1::event/EC2/AWS_EC2_INSTANCE_RETIREMENT_SCHEDULED/X1","service":"EC2",`+
		`"eventTypeCode":"AWS_EC2_INSTANCE_RETIREMENT_SCHEDULED","eventTypeCategory":"scheduledChange","startTime":%q,`+
		`"eventDescription":[{"language":"en_US","latestDescription":"retirement"}],"affectedEntities":[{"entityValue":%q},{"entityValue":%q}]}`,
		start.Format(time.RFC1123), ins[0].id, ins[1].id)
	e.send(event("AWS Health Event", "aws.health", time.Now(), detail))
	for _, in := range ins {
		waitUntil(t, 60*time.Second, "node "+in.node+" drained", func() bool {
			return cordoned(e.node(in.node)) && e.podsOn(in.node) == 0
		})
		if n := e.notice(in.node); n == nil || n.Kind != "ScheduledMaintenance" || !n.Deadline.Equal(start) {
			t.Errorf("node %s: record %+v, want ScheduledMaintenance with deadline %v", in.node, n, start)
		}
	}
	waitUntil(t, 30*time.Second, "message deleted", func() bool { return e.inQueue() == 0 })
	if got := c.metric("spot_handler_queue_messages_total", `type="health_scheduled_change"`, `outcome="handled"`); got != 1 {
		t.Errorf("handled %v Health messages, want 1", got)
	}
}

// TestRebalanceTaints: with the default --rebalance=taint a rebalance
// recommendation taints the node PreferNoSchedule and leaves its pods.
func TestRebalanceTaints(t *testing.T) {
	e, in := envWithNode(t, 30, 1)
	e.controller("")
	e.send(event("EC2 Instance Rebalance Recommendation", "aws.ec2", time.Now(), fmt.Sprintf(`{"instance-id":%q}`, in.id)))
	waitUntil(t, 30*time.Second, "node tainted, message deleted", func() bool {
		for _, tt := range e.node(in.node).Spec.Taints {
			if tt.Key == drain.TaintKey && tt.Effect == corev1.TaintEffectPreferNoSchedule {
				return e.inQueue() == 0
			}
		}
		return false
	})
	if n := e.node(in.node); n.Spec.Unschedulable || e.podsOn(in.node) != 1 {
		t.Errorf("rebalance drained the node: unschedulable=%v, pods %d", n.Spec.Unschedulable, e.podsOn(in.node))
	}
}

// TestOutOfServiceAfterTermination: EC2 says the instance is terminated,
// its pods cannot leave (a PDB that never allows, --pdb-fallback=wait); the
// drain ends with pods left (after controller.LateDrain) and, with
// --out-of-service-taint, the node gets
// node.kubernetes.io/out-of-service=nodeshutdown:NoExecute.
func TestOutOfServiceAfterTermination(t *testing.T) {
	e, in := envWithNode(t, 30, 2)
	zero := intstr.FromInt32(0)
	pdb := &policyv1.PodDisruptionBudget{ObjectMeta: metav1.ObjectMeta{Name: "never", Namespace: e.ns},
		Spec: policyv1.PodDisruptionBudgetSpec{MaxUnavailable: &zero, Selector: &metav1.LabelSelector{}}}
	if _, err := plane.Client.PolicyV1().PodDisruptionBudgets(e.ns).Create(e.ctx, pdb, metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	time.Sleep(2 * time.Second) // the disruption controller computes the budget
	e.controller("", "--out-of-service-taint", "--pdb-fallback=wait")
	e.send(stateEvent(in.id, "terminated", time.Now()))
	// The deadline has passed: the drain tries for controller.LateDrain
	// (60 s) before it ends with the pods left.
	waitUntil(t, 2*time.Minute, "out-of-service taint", func() bool {
		for _, tt := range e.node(in.node).Spec.Taints {
			if tt.Key == "node.kubernetes.io/out-of-service" && tt.Value == "nodeshutdown" && tt.Effect == corev1.TaintEffectNoExecute {
				return true
			}
		}
		return false
	})
	if n := e.notice(in.node); n == nil || n.Action != "terminated" {
		t.Errorf("record %+v, want the terminated state change", n)
	}
}
