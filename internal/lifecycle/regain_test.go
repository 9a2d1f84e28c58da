package lifecycle

import (
	"context"
	"strings"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"
)

// TestOneManagerAcrossLeaderships: a Manager whose process loses the
// leadership (the heartbeats' context ends) and wins it again picks up the
// actions recorded on the nodes as a new process would; it never takes a
// hold of the ended leadership for a live one.
func TestOneManagerAcrossLeaderships(t *testing.T) {
	tests := []struct {
		name string
		// regain runs in the new leadership, 35 s after the event (the old
		// one ended at 25 s), and returns what completes the action.
		regain func(t *testing.T, r *rig, ctx context.Context)
		want   string
	}{
		{"Resume from the node's record: heartbeat at once, then on schedule",
			func(t *testing.T, r *rig, ctx context.Context) {
				rec, err := r.m.Resume(ctx, r.node(t))
				if err != nil || rec == nil || rec.Token != "t" {
					t.Fatalf("Resume: %+v, %v", rec, err)
				}
			}, "heartbeat@20s heartbeat@35s heartbeat@55s complete:CONTINUE@1m0s"},
		{"the message delivered again: Start holds it anew",
			func(t *testing.T, r *rig, ctx context.Context) {
				if _, err := r.m.Start(ctx, "n1", action(Terminating)); err != nil {
					t.Fatal(err)
				}
			}, "heartbeat@20s heartbeat@35s heartbeat@55s complete:CONTINUE@1m0s"},
		{"completed elsewhere meanwhile (record gone): Complete sends nothing for the old token",
			func(t *testing.T, r *rig, ctx context.Context) {
				patch := []byte(`{"metadata":{"annotations":{"` + ActionAnnotation + `":null}}}`)
				if _, err := r.kube.CoreV1().Nodes().Patch(ctx, "n1", types.MergePatchType, patch, metav1.PatchOptions{}); err != nil {
					t.Fatal(err)
				}
			}, "heartbeat@20s"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r := newRig(t, 60, cfgWith(5*time.Minute, 0))
			first, lose := context.WithCancel(context.Background())
			if _, err := r.m.Start(first, "n1", action(Terminating)); err != nil {
				t.Fatal(err)
			}
			r.runTo(t, 25*time.Second)
			lose()
			settle(r.fc)
			r.fc.Step(10 * time.Second)
			second, end := context.WithCancel(context.Background())
			defer end()
			tt.regain(t, r, second)
			r.runTo(t, 60*time.Second)
			if err := r.m.Complete(second, "n1", Drained); err != nil {
				t.Fatal(err)
			}
			r.runTo(t, 2*time.Minute) // nothing more is sent
			if got := strings.Join(r.asg.seen(), " "); got != tt.want {
				t.Errorf("calls %s\nwant  %s", got, tt.want)
			}
			if r.asg.describe != 1 {
				t.Errorf("DescribeLifecycleHooks called %d times, want once", r.asg.describe)
			}
		})
	}
}

// node reads node n1 from the rig's clientset.
func (r *rig) node(t *testing.T) *corev1.Node {
	t.Helper()
	n, err := r.kube.CoreV1().Nodes().Get(context.Background(), "n1", metav1.GetOptions{})
	if err != nil {
		t.Fatal(err)
	}
	return n
}

// neverReady is a NodeFinder that never finds the node.
func neverReady(string) (*corev1.Node, bool) { return nil, false }
