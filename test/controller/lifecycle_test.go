package controller

import (
	"context"
	"fmt"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/autoscaling"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/spot-handler/spot-handler/internal/lifecycle"
	"github.com/spot-handler/spot-handler/internal/testenv"
)

// group is an Auto Scaling group in moto with a termination hook ("drain")
// and a launch hook ("join").
type group struct {
	e         *env
	name      string
	instances []testenv.GroupInstance
}

// newGroup creates this cluster's group "nodes" (tagged
// kubernetes.io/cluster/<testCluster>) of size instances whose two hooks
// have the heartbeat timeout given in seconds (and ABANDON as the default
// result, so a lapsed hold shows as timed_out, never as a silent CONTINUE).
func (e *env) newGroup(size int, timeout int32) *group {
	e.t.Helper()
	return e.groupTagged("nodes", testCluster, size, timeout)
}

// groupTagged is newGroup for a group named name, tagged for cluster
// (untagged if "").
func (e *env) groupTagged(name, cluster string, size int, timeout int32) *group {
	e.t.Helper()
	g := &group{e: e, name: name}
	var err error
	if g.instances, err = moto.CreateGroup(e.ctx, g.name, size); err != nil {
		e.t.Fatal(err)
	}
	if cluster != "" {
		if err := moto.TagGroup(e.ctx, g.name, map[string]string{"kubernetes.io/cluster/" + cluster: "owned"}); err != nil {
			e.t.Fatal(err)
		}
	}
	asg := autoscaling.NewFromConfig(moto.Config())
	for hook, transition := range map[string]string{"drain": lifecycle.Terminating, "join": lifecycle.Launching} {
		if _, err := asg.PutLifecycleHook(e.ctx, &autoscaling.PutLifecycleHookInput{AutoScalingGroupName: &g.name,
			LifecycleHookName: aws.String(hook), LifecycleTransition: aws.String(transition), HeartbeatTimeout: aws.Int32(timeout),
			DefaultResult: aws.String("ABANDON")}); err != nil {
			e.t.Fatalf("PutLifecycleHook: %v", err)
		}
	}
	return g
}

// node creates the kwok node of instance i (Ready, with its providerID and
// pods pinned to it) and returns its name.
func (g *group) node(i, pods int, grace int64, delay time.Duration) string {
	g.e.t.Helper()
	name := "q-" + g.instances[i].ID
	g.e.t.Cleanup(func() { _ = plane.Client.CoreV1().Nodes().Delete(context.Background(), name, metav1.DeleteOptions{}) })
	if err := g.e.addNode(name, g.instances[i].ProviderID(), pods, grace, delay); err != nil {
		g.e.t.Fatal(err)
	}
	return name
}

// begin puts instance i into a pending action of hook in moto and returns
// the lifecycle event EventBridge would deliver for it, and the token.
func (g *group) begin(i int, hook, transition string) (body, token string) {
	g.e.t.Helper()
	token, err := moto.BeginLifecycleAction(g.name, hook, g.instances[i].ID, transition)
	if err != nil {
		g.e.t.Fatal(err)
	}
	detailType := "EC2 Instance-terminate Lifecycle Action"
	if transition == lifecycle.Launching {
		detailType = "EC2 Instance-launch Lifecycle Action"
	}
	detail := fmt.Sprintf(`{"Origin":"AutoScalingGroup","Destination":"EC2","LifecycleActionToken":%q,"AutoScalingGroupName":%q,`+
		`"LifecycleHookName":%q,"EC2InstanceId":%q,"LifecycleTransition":%q}`, token, g.name, hook, g.instances[i].ID, transition)
	return event(detailType, "aws.autoscaling", time.Now(), detail), token
}

// action is moto's state of the action with token.
func (g *group) action(token string) testenv.LifecycleAction {
	g.e.t.Helper()
	all, err := moto.LifecycleActions()
	if err != nil {
		g.e.t.Fatal(err)
	}
	for _, a := range all {
		if a.Token == token {
			return a
		}
	}
	g.e.t.Fatalf("moto has no action %s", token)
	return testenv.LifecycleAction{}
}

// settled waits until the two actions named by token (after what) are no
// longer pending, then checks each was completed with its result.
func (g *group) settled(what1, token1, result1, what2, token2, result2 string) {
	g.e.t.Helper()
	waitUntil(g.e.t, 60*time.Second, "both actions completed", func() bool {
		return g.action(token1).State != "pending" && g.action(token2).State != "pending"
	})
	for _, w := range [][3]string{{what1, token1, result1}, {what2, token2, result2}} {
		if st := g.action(w[1]); st.State != "completed" || st.Result != w[2] {
			g.e.t.Errorf("%s: %s %s, want completed %s", w[0], st.State, st.Result, w[2])
		}
	}
}

// calls are moto's recorded calls of api for token.
func (g *group) calls(api, token string) []testenv.LifecycleCall {
	g.e.t.Helper()
	all, err := moto.LifecycleCalls()
	if err != nil {
		g.e.t.Fatal(err)
	}
	var out []testenv.LifecycleCall
	for _, c := range all {
		if c.Action == api && c.Token == token {
			out = append(out, c)
		}
	}
	return out
}

// TestLifecycleTerminateHook: an "EC2 Instance-terminate Lifecycle Action"
// message for a node whose pods take ~5 s to go, held by a hook with a 3 s
// heartbeat timeout (moto times the action out after 3 s without a
// heartbeat). The controller records the action on the node, drains it,
// heartbeats through the drain, and completes CONTINUE with the action's
// token once the node is empty; the record is then removed.
func TestLifecycleTerminateHook(t *testing.T) {
	e := newEnv(t, 30)
	g := e.newGroup(1, 3)
	node := g.node(0, 3, 10, 5*time.Second)
	c := e.controller("")
	body, token := g.begin(0, "drain", lifecycle.Terminating)
	began := time.Now()
	e.send(body)

	var lastBusy time.Time
	recorded := false
	waitUntil(t, 90*time.Second, "the action no longer pending", func() bool {
		n := e.node(node)
		if rec, err := lifecycle.ReadRecord(n); err == nil && rec != nil {
			recorded = recorded || rec.Token == token
		}
		if e.podsOn(node) > 0 {
			lastBusy = time.Now()
		}
		return g.action(token).State != "pending"
	})
	if !recorded {
		t.Error("the action's token was never seen in the node's lifecycle record")
	}
	if st := g.action(token); st.State != "completed" || st.Result != "CONTINUE" {
		t.Fatalf("moto's action: %s %s, want completed CONTINUE (timed_out: the heartbeats lapsed or nothing completed it)", st.State, st.Result)
	}
	completes := g.calls("CompleteLifecycleAction", token)
	if len(completes) != 1 || completes[0].Result != "CONTINUE" || completes[0].Error != "" {
		t.Fatalf("completions %+v, want one accepted CONTINUE with token %s", completes, token)
	}
	if !completes[0].Time.After(lastBusy) {
		t.Errorf("completed at %v, but the node still held pods at %v", completes[0].Time, lastBusy)
	}
	if e.podsOn(node) != 0 || !cordoned(e.node(node)) {
		t.Error("node not cordoned and empty after the completion")
	}
	var beats []time.Time
	for _, h := range g.calls("RecordLifecycleActionHeartbeat", token) {
		if h.Error != "" {
			t.Errorf("heartbeat refused: %s", h.Error)
		}
		beats = append(beats, h.Time)
	}
	gap, from := time.Duration(0), began
	for _, b := range beats {
		gap, from = max(gap, b.Sub(from)), b
	}
	t.Logf("completed %v after the message was sent; %d heartbeats, longest gap %v (hook timeout 3s)",
		completes[0].Time.Sub(began).Round(time.Millisecond), len(beats), gap.Round(time.Millisecond))
	if len(beats) < 2 || gap >= 3*time.Second {
		t.Errorf("%d heartbeats, longest gap %v: want several, each within the hook's 3s timeout", len(beats), gap)
	}
	waitUntil(t, 30*time.Second, "record removed, message deleted", func() bool {
		_, has := e.node(node).Annotations[lifecycle.ActionAnnotation]
		return !has && e.inQueue() == 0
	})
	wantOne(t, c, "spot_handler_lifecycle_completions_total", `reason="drained"`, `outcome="ok"`)
	wantOne(t, c, "spot_handler_queue_messages_total", `type="asg_lifecycle"`, `outcome="handled"`)
}

// wantOne checks that the samples of name matching labels sum to 1.
func wantOne(t *testing.T, c *ctrl, name string, labels ...string) {
	t.Helper()
	if got := c.metric(name, labels...); got != 1 {
		t.Errorf("%s%v = %v, want 1", name, labels, got)
	}
}

// TestLifecycleUnknownInstance: a termination action of an instance of
// this cluster's group that never became a node (a failed boot) is
// completed CONTINUE at once, long before the hook's hour would run out,
// and the message is deleted: no re-check of the message (--unknown-recheck
// is ten minutes here), since the group says the instance is this
// cluster's.
func TestLifecycleUnknownInstance(t *testing.T) {
	e := newEnv(t, 30)
	g := e.newGroup(1, 3600)
	c := e.controller("", "--unknown-recheck", "600s")
	body, token := g.begin(0, "drain", lifecycle.Terminating)
	e.send(body)
	waitUntil(t, 60*time.Second, "the action no longer pending, message deleted", func() bool {
		return g.action(token).State != "pending" && e.inQueue() == 0
	})
	if st := g.action(token); st.State != "completed" || st.Result != "CONTINUE" {
		t.Fatalf("moto's action: %s %s, want completed CONTINUE", st.State, st.Result)
	}
	if got := len(g.calls("CompleteLifecycleAction", token)); got != 1 {
		t.Errorf("%d completions, want 1", got)
	}
	if got := c.metric("spot_handler_queue_messages_total", `outcome="recheck"`); got != 0 {
		t.Errorf("%v re-checks, want none: the group says the instance is this cluster's", got)
	}
	wantOne(t, c, "spot_handler_lifecycle_completions_total", `reason="unknown_instance"`, `outcome="ok"`)
	wantOne(t, c, "spot_handler_queue_messages_total", `type="asg_lifecycle"`, `outcome="unknown_instance"`)
}

// TestLifecycleLaunchHook: a launch action is completed CONTINUE once the
// kwok node with the instance's providerID is Ready; another, whose node
// never comes, is abandoned after --launch-timeout. Both messages are
// deleted once their action is completed.
func TestLifecycleLaunchHook(t *testing.T) {
	e := newEnv(t, 30)
	g := e.newGroup(2, 3600)
	e.controller("", "--launch-timeout", "6s")
	joins, joinToken := g.begin(0, "join", lifecycle.Launching)
	never, neverToken := g.begin(1, "join", lifecycle.Launching)
	e.send(joins, never)
	time.Sleep(2 * time.Second)
	if st := g.action(joinToken); st.State != "pending" {
		t.Fatalf("launch action %s before its node exists, want pending", st.State)
	}
	g.node(0, 0, 0, 0)
	g.settled("launch with a Ready node", joinToken, "CONTINUE", "launch without a node", neverToken, "ABANDON")
	waitUntil(t, 30*time.Second, "messages deleted", func() bool { return e.inQueue() == 0 })
}

// TestLifecycleDirectNotification: a hook whose notification target is
// the queue itself sends its test message (deleted, counted as an ignored
// lifecycle message) and then the termination action without the
// EventBridge envelope; the node is drained and the action completed
// CONTINUE.
func TestLifecycleDirectNotification(t *testing.T) {
	e := newEnv(t, 30)
	g := e.newGroup(1, 3600)
	node := g.node(0, 2, 5, 0)
	c := e.controller("")
	token, err := moto.BeginLifecycleAction(g.name, "drain", g.instances[0].ID, lifecycle.Terminating)
	if err != nil {
		t.Fatal(err)
	}
	now := time.Now().UTC().Format("2006-01-02T15:04:05.000Z")
	e.send(fmt.Sprintf(`{"AccountId":"123456789012","RequestId":"r-test","AutoScalingGroupName":%q,"Service":"AWS Auto Scaling",`+
		`"Event":"autoscaling:TEST_NOTIFICATION","Time":%q}`, g.name, now),
		fmt.Sprintf(`{"Origin":"AutoScalingGroup","LifecycleHookName":"drain","Destination":"EC2","AccountId":"123456789012","RequestId":"r-1",`+
			`"LifecycleTransition":"autoscaling:EC2_INSTANCE_TERMINATING","AutoScalingGroupName":%q,"Service":"AWS Auto Scaling","Time":%q,`+
			`"EC2InstanceId":%q,"LifecycleActionToken":%q}`, g.name, now, g.instances[0].ID, token))
	waitUntil(t, 60*time.Second, "the action no longer pending, both messages deleted", func() bool {
		return g.action(token).State != "pending" && e.inQueue() == 0
	})
	if st := g.action(token); st.State != "completed" || st.Result != "CONTINUE" {
		t.Fatalf("moto's action: %s %s, want completed CONTINUE", st.State, st.Result)
	}
	if e.podsOn(node) != 0 {
		t.Error("completed with pods left on the node")
	}
	wantOne(t, c, "spot_handler_queue_messages_total", `type="asg_lifecycle"`, `outcome="ignored"`)
	wantOne(t, c, "spot_handler_queue_messages_total", `type="asg_lifecycle"`, `outcome="handled"`)
	if got := c.metric("spot_handler_queue_messages_total", `type="malformed"`); got != 0 {
		t.Errorf("%v messages counted malformed, want 0", got)
	}
}
