package controller

import (
	"testing"
	"time"

	"github.com/spot-handler/spot-handler/internal/interrupt"
	"github.com/spot-handler/spot-handler/pkg/drain"
	"github.com/spot-handler/spot-handler/pkg/queue"
)

func TestInstanceOf(t *testing.T) {
	for in, want := range map[string]string{
		"aws:///us-east-1a/i-0123456789abcdef0": "i-0123456789abcdef0",
		"aws://us-east-1a/i-0123456789abcdef0":  "i-0123456789abcdef0",
		"aws:///i-12345678":                     "i-12345678",
		"aws:///us-east-1a/":                    "",
		"gce://project/zone/name":               "",
		"kwok://node-1":                         "",
		"":                                      "",
	} {
		if got := instanceOf(in); got != want {
			t.Errorf("instanceOf(%q) = %q, want %q", in, got, want)
		}
	}
}

func TestMachineNotice(t *testing.T) {
	now := time.Date(2026, 12, 1, 12, 0, 0, 0, time.UTC)
	for _, tc := range []struct {
		kind queue.Kind
		want interrupt.Kind
		ok   bool
	}{
		{queue.SpotInterruption, interrupt.SpotInterruption, true},
		{queue.RebalanceRecommendation, interrupt.RebalanceRecommendation, true},
		{queue.ScheduledMaintenance, interrupt.ScheduledMaintenance, true},
		{queue.InstanceStateChange, interrupt.InstanceStateChange, true},
		{queue.LifecycleAction, "", false},
	} {
		n, ok := machineNotice(queue.Notice{Kind: tc.kind, InstanceID: "i-12345678", ID: "queue/x"}, now)
		if ok != tc.ok || (ok && (n.Kind != tc.want || n.Source != interrupt.SourceQueue || !n.Detected.Equal(now) || n.Data["instance"] != "i-12345678")) {
			t.Errorf("%s: %+v, %v", tc.kind, n, ok)
		}
	}
}

// TestRecorded: only notices a controller recorded are resumed; the
// agent's are left to the agent.
func TestRecorded(t *testing.T) {
	dl := time.Date(2026, 12, 1, 12, 2, 0, 0, time.UTC)
	r, ok := recorded(&drain.NodeNotice{Kind: "SpotInterruption", ID: "queue/SpotInterruption/i-12345678", Deadline: dl})
	if !ok || r.Source != interrupt.SourceQueue || !r.Deadline.Equal(dl) || r.Kind != interrupt.SpotInterruption {
		t.Errorf("controller's record: %+v, %v", r, ok)
	}
	mine := drain.NodeNotice{Kind: "InstanceStateChange", ID: "queue/InstanceStateChange/i-12345678", Deadline: dl, Source: drain.SourceQueue}
	r, ok = recorded(&drain.NodeNotice{Kind: "SpotInterruption", ID: "SpotInterruption/terminate/x", Source: drain.SourceIMDS, Others: []drain.NodeNotice{mine}})
	if !ok || r.ID != mine.ID || r.Kind != interrupt.InstanceStateChange {
		t.Errorf("controller's record under the agent's: %+v, %v", r, ok)
	}
	for _, n := range []*drain.NodeNotice{nil, {Kind: "SpotInterruption", ID: "SpotInterruption/terminate/2026-12-01T12:02:00Z"}, {ID: "queue/"},
		{Kind: "SpotInterruption", ID: "queue/x", Source: drain.SourceIMDS}} {
		if _, ok := recorded(n); ok {
			t.Errorf("resumed %+v", n)
		}
	}
}
