package agent

import (
	"strings"
	"testing"
	"time"

	"go.uber.org/zap"
	"go.uber.org/zap/zapcore"
	"go.uber.org/zap/zaptest/observer"
	"k8s.io/client-go/tools/record"

	"github.com/spot-handler/spot-handler/internal/interrupt"
	"github.com/spot-handler/spot-handler/pkg/drain"
)

// TestReportFieldsAcceptedAfter (issue 11, case 5): the time until the
// last eviction was accepted is logged only when one was; a drain that had
// none logged -9223372036.85 s.
func TestReportFieldsAcceptedAfter(t *testing.T) {
	det := time.Date(2026, 12, 1, 22, 0, 0, 0, time.UTC)
	d := interrupt.Drain{Notice: interrupt.Notice{Kind: "SpotInterruption", Detected: det}}
	for _, c := range []struct {
		name     string
		accepted time.Time
		want     string // "" for no field
	}{
		{"none accepted", time.Time{}, ""},
		{"accepted", det.Add(1500 * time.Millisecond), "1.5s"},
	} {
		t.Run(c.name, func(t *testing.T) {
			rep := &drain.Report{Started: det, Finished: det.Add(3 * time.Second), AllAccepted: c.accepted, Empty: true}
			core, logs := observer.New(zapcore.InfoLevel)
			zap.New(core).Info("drain finished: node empty", reportFields(d, rep, false)...)
			got, ok := logs.All()[0].ContextMap()["all_evictions_accepted_after"]
			switch {
			case c.want == "" && ok:
				t.Errorf("all_evictions_accepted_after = %v logged with no eviction accepted, want the field left out", got)
			case c.want != "" && (!ok || got.(time.Duration).String() != c.want):
				t.Errorf("all_evictions_accepted_after = %v (present %v), want %s", got, ok, c.want)
			}
		})
	}
}

// TestPodEventOutcomes: each outcome the agent tells a pod about has its
// Event, a deletion after a refused eviction (issue 11) with the API's words.
func TestPodEventOutcomes(t *testing.T) {
	n := interrupt.Notice{Kind: "SpotInterruption"}
	for _, c := range []struct {
		res  drain.PodResult
		want string
	}{
		{drain.PodResult{Name: "a", Outcome: drain.Evicted, Reason: "evicted with 30s grace"}, "Normal EvictedBySpotHandler"},
		{drain.PodResult{Name: "b", Outcome: drain.DeletedAfterCutoff, Reason: "PDB web"}, "Warning DeletedAfterPDBCutoff"},
		{drain.PodResult{Name: "c", Outcome: drain.RunningAtDeadline, Reason: "PDB web"}, "Warning RunningAtDeadline"},
		{drain.PodResult{Name: "d", Outcome: drain.DeletedAfterRefusal, Reason: "deleted with 5s grace at its cut-off",
			Refusal: `admission webhook "deny.example.com" denied the request: no evictions on Fridays`},
			`Warning DeletedAfterEvictionRefused SpotInterruption notice on node n1: deleted with 5s grace at its cut-off; the API refused its eviction: admission webhook "deny.example.com" denied the request: no evictions on Fridays`},
		{drain.PodResult{Name: "e", Outcome: drain.DeletedAfterRefusal, Reason: "eviction refused until the cut-off 22:00 (two PDBs); deleted with 5s grace",
			Refusal: "two PDBs"}, "Warning DeletedAfterEvictionRefused SpotInterruption notice on node n1: eviction refused until the cut-off 22:00 (two PDBs); deleted with 5s grace"},
		{drain.PodResult{Name: "f", Outcome: drain.GoneBeforeEviction, TerminatedBy: drain.ByOtherAfterPlan, Grace: 12,
			Reason: "terminated by someone else, after the drain planned; not evicted again; grace shortened from 600s to 12s to end before the deadline"},
			"Normal GraceShortenedBySpotHandler SpotInterruption notice on node n1: terminated by someone else, after the drain planned"},
	} {
		rec := record.NewFakeRecorder(1)
		e := &liveEffects{node: "n1", rec: rec}
		e.podEvent(c.res, n)
		select {
		case ev := <-rec.Events:
			if !strings.HasPrefix(ev, c.want) {
				t.Errorf("%s: Event %q, want %q", c.res.Outcome, ev, c.want)
			}
		default:
			t.Errorf("%s: no Event on the pod", c.res.Outcome)
		}
	}
}
