package controller

import (
	"strconv"
	"testing"
	"time"

	"github.com/spot-handler/spot-handler/internal/lifecycle"
)

// groupCalls are moto's recorded lifecycle calls (completions and
// heartbeats, accepted or not) naming group.
func groupCalls(t *testing.T, group string) int {
	t.Helper()
	all, err := moto.LifecycleCalls()
	if err != nil {
		t.Fatal(err)
	}
	n := 0
	for _, c := range all {
		if c.Group == group {
			n++
		}
	}
	return n
}

// TestOwnershipOtherCluster: a second group in the account, tagged
// kubernetes.io/cluster/other-cluster, with a termination and a launch
// action pending and neither instance a node here. Whatever
// --delete-unknown says, neither action is ever completed, heartbeated or
// abandoned (moto records no call naming the group, and both stay
// pending); the messages are deleted (true) or left (false). Meanwhile a
// node of this cluster's group is drained and its action completed, so the
// controller was acting.
func TestOwnershipOtherCluster(t *testing.T) {
	for _, del := range []bool{true, false} {
		t.Run("delete-unknown="+strconv.FormatBool(del), func(t *testing.T) {
			e := newEnv(t, 30)
			ours := e.newGroup(1, 3600)
			node := ours.node(0, 1, 2, 0)
			other := e.groupTagged("other", "other-cluster", 2, 3600)
			c := e.controller("", "--unknown-recheck", "1s", "--launch-timeout", "3s", "--delete-unknown="+strconv.FormatBool(del))
			outcome := "unknown_instance"
			if !del {
				outcome = "unknown_kept"
			}
			settled := func(n float64) bool {
				return c.metric("spot_handler_queue_messages_total", `type="asg_lifecycle"`, `outcome="`+outcome+`"`) >= n
			}
			// The launch first, alone: its message is settled as another
			// cluster's (or, wrongly, held until the launch timeout).
			launch, launchToken := other.begin(1, "join", lifecycle.Launching)
			e.send(launch)
			waitUntil(t, 60*time.Second, "the launch message settled as another cluster's", func() bool {
				return groupCalls(t, "other") > 0 || settled(1)
			})
			term, termToken := other.begin(0, "drain", lifecycle.Terminating)
			mine, mineToken := ours.begin(0, "drain", lifecycle.Terminating)
			e.send(term, mine)
			waitUntil(t, 60*time.Second, "the termination message settled as another cluster's, ours completed", func() bool {
				return groupCalls(t, "other") > 0 || (settled(2) && ours.action(mineToken).State != "pending")
			})
			if n := groupCalls(t, "other"); n != 0 {
				all, _ := moto.LifecycleCalls()
				t.Fatalf("%d lifecycle calls named the other cluster's group, want none: %+v", n, all)
			}
			for _, tok := range []string{termToken, launchToken} {
				if st := other.action(tok); st.State != "pending" || st.Heartbeats != 0 {
					t.Errorf("the other cluster's action %s: %s %s, %d heartbeats; want pending, untouched", tok, st.State, st.Result, st.Heartbeats)
				}
			}
			if st := ours.action(mineToken); st.State != "completed" || st.Result != "CONTINUE" {
				t.Errorf("this cluster's node's action: %s %s, want completed CONTINUE", st.State, st.Result)
			}
			if !cordoned(e.node(node)) {
				t.Errorf("this cluster's node %s not cordoned", node)
			}
			if del {
				waitUntil(t, 30*time.Second, "every message deleted", func() bool { return e.inQueue() == 0 })
			} else if n := e.inQueue(); n != 2 {
				t.Errorf("%d messages on the queue, want the other cluster's 2 left", n)
			}
			if n := groupCalls(t, "other"); n != 0 {
				t.Errorf("%d lifecycle calls named the other cluster's group, want none", n)
			}
		})
	}
}

// TestOwnershipListedGroup: a group named in --asg-names and tagged for no
// cluster is this cluster's: the termination action of its instance that
// never joined is completed CONTINUE at once, and its launch action of an
// instance that never joins is waited for and abandoned at
// --launch-timeout, as for a tagged group.
func TestOwnershipListedGroup(t *testing.T) {
	e := newEnv(t, 30)
	g := e.groupTagged("workers-blue", "", 2, 3600)
	c := e.controller("", "--unknown-recheck", "600s", "--launch-timeout", "3s", "--asg-names", "bastion, workers-blue")
	term, termToken := g.begin(0, "drain", lifecycle.Terminating)
	launch, launchToken := g.begin(1, "join", lifecycle.Launching)
	e.send(term, launch)
	g.settled("termination", termToken, "CONTINUE", "launch without a node (at the launch timeout)", launchToken, "ABANDON")
	if got := c.metric("spot_handler_queue_messages_total", `outcome="recheck"`); got != 0 {
		t.Errorf("%v re-checks, want none", got)
	}
}
