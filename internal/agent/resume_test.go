package agent

import (
	"testing"
	"time"

	"github.com/spot-handler/spot-handler/internal/interrupt"
	"github.com/spot-handler/spot-handler/pkg/drain"
)

// TestRecordedIsTheAgentsOwn (issue #20, item 3): a restarted agent hands
// its state machine only the notice its own side holds on the node, with
// that notice's source; the controller's notice (mode both) is never the
// agent's to undo. Records from before sources were recorded are told by
// their IDs.
func TestRecordedIsTheAgentsOwn(t *testing.T) {
	dl := time.Date(2026, 12, 1, 12, 2, 0, 0, time.UTC)
	rehearsal, _ := RehearsalNotice(dl.Format(time.RFC3339), dl)
	spot := drain.NodeNotice{Kind: "SpotInterruption", ID: "SpotInterruption/terminate/x", Deadline: dl, Source: drain.SourceIMDS}
	controller := drain.NodeNotice{Kind: "InstanceStateChange", ID: "queue/InstanceStateChange/i-1", Deadline: dl, Source: drain.SourceQueue}
	under := controller
	under.Others = []drain.NodeNotice{spot}
	legacyController := controller
	legacyController.Source = ""
	for _, c := range []struct {
		name   string
		rec    *drain.NodeNotice
		wantID string
		source interrupt.Source
	}{
		{"none", nil, "", ""},
		{"the agent's", &spot, spot.ID, interrupt.SourceIMDS},
		{"the controller's only", &controller, "", ""},
		{"the controller's, from before sources", &legacyController, "", ""},
		{"the agent's under the controller's", &under, spot.ID, interrupt.SourceIMDS},
		{"a rehearsal from before sources", &drain.NodeNotice{Kind: "SpotInterruption", ID: rehearsal.ID, Deadline: dl}, rehearsal.ID, interrupt.SourceRehearsal},
		{"a notice from before sources", &drain.NodeNotice{Kind: "ScheduledMaintenance", ID: "ScheduledMaintenance/e1", Deadline: dl}, "ScheduledMaintenance/e1", interrupt.SourceIMDS},
	} {
		t.Run(c.name, func(t *testing.T) {
			r := recorded(c.rec)
			switch {
			case c.wantID == "" && r != nil:
				t.Errorf("recorded %+v, want none", r)
			case c.wantID != "" && (r == nil || r.ID != c.wantID || r.Source != c.source || !r.Deadline.Equal(dl)):
				t.Errorf("recorded %+v, want %s from %s", r, c.wantID, c.source)
			}
		})
	}
}
