package drain

import (
	"context"
	"testing"
	"time"

	"github.com/spot-handler/spot-handler/internal/testenv"
)

// TestDrainSurvivesAPIServerRestart stops kube-apiserver twice during a
// drain (its own plane: the shared one must stay up): right before the
// plan's LIST of the node's pods, and again in the middle of the
// evictions. The fault proxy holds the request that marks the moment
// until the apiserver is down, then lets it fail. The drain retries every
// step, re-watches when the API is back, and finishes in time.
func TestDrainSurvivesAPIServerRestart(t *testing.T) {
	needPlane(t)
	p := testenv.Start(t)
	ns := p.NewNamespace(t)
	node := "drain-restart"
	// Slow pods (each uses its full 10s grace), so the drain is mid-way when
	// the API goes down the second time.
	nodeWith(t, p, ns, node, workload{name: "web", replicas: 10, grace: 10, delay: 100000 * time.Second})
	f := p.Faults(t)
	list := f.Add(testenv.Rule{Match: nodePodsList(node), After: nodePatch(node), Times: 1, Hang: true})
	// The first 5 evictions pass (slowly); the 6th hangs until the API is
	// down again.
	f.Add(testenv.Rule{Match: testenv.Match{Method: "POST", Path: testenv.EvictionPath}, Times: 5, Delay: 10 * time.Millisecond})
	sixth := f.Add(testenv.Rule{Match: testenv.Match{Method: "POST", Path: testenv.EvictionPath}, Times: 1, Hang: true})
	d := drainerOn(t, f.Client, nil)
	done := make(chan *Report, 1)
	go func() {
		rep, err := d.Drain(context.Background(), Request{Node: node, Kind: "SpotInterruption", NoticeID: "r", Deadline: time.Now().Add(100 * time.Second)})
		if err != nil {
			t.Error(err)
		}
		done <- rep
	}()
	var rep *Report
	outage := func(what string, held *testenv.Fault, hits int) {
		for held.Hits() < hits {
			select {
			case rep = <-done:
				t.Fatalf("the drain ended before the outage %s: %s", what, rep.Summary())
			case <-time.After(10 * time.Millisecond):
			}
		}
		p.StopAPIServer()
		t.Logf("kube-apiserver stopped %s", what)
		held.Release()
		// Longer than client-go's own retries of a GET whose connection
		// broke (10 × 1 s), so the drain's retries are what is tested.
		time.Sleep(15 * time.Second)
		if err := p.StartAPIServer(); err != nil {
			t.Fatal(err)
		}
		t.Log("kube-apiserver back")
	}
	outage("before the plan's LIST", list, 1)
	outage("in the middle of the evictions", sixth, 1)
	rep = <-done
	t.Log(rep.Summary())
	checkEmptyInTime(t, p, rep, node)
	if rep.Counts()[Evicted] != 10 {
		t.Errorf("want 10 evicted, got %v", rep.Counts())
	}
}
