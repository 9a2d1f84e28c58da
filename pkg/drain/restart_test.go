package drain

import (
	"context"
	"testing"
	"time"

	"github.com/spot-handler/spot-handler/internal/testenv"
)

// TestDrainSurvivesAPIServerRestart stops kube-apiserver for 10s in the
// middle of a drain (its own plane: the shared one must stay up). The drain
// keeps retrying, re-watches when the API is back, and finishes in time.
func TestDrainSurvivesAPIServerRestart(t *testing.T) {
	needPlane(t)
	p := testenv.Start(t)
	ns := p.NewNamespace(t)
	node := "drain-restart"
	// Slow pods (each uses its full 20s grace), so the drain is mid-way when
	// the API goes down.
	nodeWith(t, p, ns, node, workload{name: "web", replicas: 10, grace: 20, delay: 100000 * time.Second})
	d := newDrainer(t, p, nil)
	done := make(chan *Report, 1)
	go func() {
		rep, err := d.Drain(context.Background(), Request{Node: node, Kind: "SpotInterruption", NoticeID: "r", Deadline: time.Now().Add(90 * time.Second)})
		if err != nil {
			t.Error(err)
		}
		done <- rep
	}()
	time.Sleep(3 * time.Second)
	p.StopAPIServer()
	t.Log("kube-apiserver stopped")
	time.Sleep(10 * time.Second)
	if err := p.StartAPIServer(); err != nil {
		t.Fatal(err)
	}
	t.Log("kube-apiserver back")
	rep := <-done
	t.Log(rep.Summary())
	checkEmptyInTime(t, p, rep, node)
	if rep.Counts()[Evicted] != 10 {
		t.Errorf("want 10 evicted, got %v", rep.Counts())
	}
}
