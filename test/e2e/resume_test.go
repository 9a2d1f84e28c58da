package e2e

import (
	"net/http"
	"net/http/httputil"
	"net/url"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/spot-handler/spot-handler/internal/testenv"
	"github.com/spot-handler/spot-handler/pkg/drain"
)

// switchingProxy forwards to one of several AEMMs, so a test can change
// what instance metadata says mid-run (an event canceled) with real AEMMs.
type switchingProxy struct {
	targets []*httputil.ReverseProxy
	cur     atomic.Int32
}

func newSwitchingProxy(t *testing.T, urls ...string) (*switchingProxy, string) {
	t.Helper()
	p := &switchingProxy{}
	for _, u := range urls {
		pu, err := url.Parse(u)
		if err != nil {
			t.Fatal(err)
		}
		p.targets = append(p.targets, httputil.NewSingleHostReverseProxy(pu))
	}
	srv := newLoopbackServer(t, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		p.targets[p.cur.Load()].ServeHTTP(w, r)
	}))
	return p, srv
}

// TestAgentMaintenanceThenCanceled: a scheduled maintenance event drains
// the node; when AEMM then reports the event canceled, the agent uncordons
// and removes its taint and annotation.
func TestAgentMaintenanceThenCanceled(t *testing.T) {
	const name = "e2e-maintenance"
	spotTest(t, name, 3, 1)
	notBefore := time.Now().Add(10 * time.Minute).UTC().Format(time.RFC3339)
	active := testenv.StartAEMM(t, "events", "--imdsv2", "-o", "system-reboot", "-b", notBefore, "-t", "active")
	canceled := testenv.StartAEMM(t, "events", "--imdsv2", "-o", "system-reboot", "-b", notBefore, "-t", "canceled")
	proxy, url := newSwitchingProxy(t, active.URL, canceled.URL)
	a := startAgent(t, name, url)
	waitUntil(t, 30*time.Second, "maintenance drain", func() bool { return node(t, name).Spec.Unschedulable && podsOn(t, name) == 0 })
	proxy.cur.Store(1)
	waitUntil(t, 15*time.Second, "uncordon after cancellation", func() bool {
		n := node(t, name)
		return !n.Spec.Unschedulable && taintCount(n) == 0 && n.Annotations[drain.NoticeAnnotation] == ""
	})
	if v := a.metric(t, "spot_handler_notices_total", `kind="ScheduledMaintenance"`, `action="system-reboot"`); v != 1 {
		t.Errorf("maintenance notices = %v, want 1", v)
	}
	if !strings.Contains(a.logs(), "notice withdrawn") {
		t.Error("no 'notice withdrawn' log")
	}
}

// TestAgentResumesAfterKill kills the agent mid-drain (SIGKILL: no chance
// to clean up) and starts a new one. The fault proxy between the agents and
// the API holds every eviction until the first agent is dead, so none of
// its evictions ever reaches the API: only the restarted agent can empty
// the node. It reads the node's annotation, sees the notice still in IMDS,
// and finishes the drain with no second taint.
func TestAgentResumesAfterKill(t *testing.T) {
	const name = "e2e-resume"
	ns := spotTest(t, name, 10, 20) // pods take up to 20s to go
	faults := plane.Faults(t)
	evictions := testenv.Match{Method: "POST", Path: "^/api/v1/namespaces/" + ns + "/pods/[^/]+/eviction$"}
	held := faults.Add(testenv.Rule{Match: evictions, Hang: true})
	deadline := time.Now().Add(90 * time.Second).UTC().Truncate(time.Second)
	aemm := testenv.StartAEMM(t, "spot", "--imdsv2", "-t", deadline.Format(time.RFC3339), "--rebalance-delay-sec", "100000")
	first := startAgentVia(t, faults.Kubeconfig, name, aemm.URL)
	waitUntil(t, 30*time.Second, "the first agent's 10 evictions held", func() bool { return held.Hits() >= 10 })
	first.kill()
	killed := time.Now()
	waitUntil(t, 10*time.Second, "the dead agent's held evictions dropped", func() bool {
		for _, l := range faults.Requests() {
			if l.IsEviction() && !l.Done {
				return false
			}
		}
		return true
	})
	held.Release()
	if n := podsOn(t, name); n != 10 {
		t.Fatalf("%d pods on the node after the first agent died, want all 10 (its evictions were held)", n)
	}
	second := startAgentVia(t, faults.Kubeconfig, name, aemm.URL)
	waitUntil(t, 60*time.Second, "node empty", func() bool { return podsOn(t, name) == 0 })
	if time.Now().After(deadline.Add(-15 * time.Second)) {
		t.Errorf("node emptied after deadline-margin")
	}
	for _, l := range faults.Requests() {
		if l.IsEviction() && l.Status != 0 && l.At.Before(killed) {
			t.Errorf("an eviction of the first agent reached the API: %+v", l)
		}
	}
	if c := taintCount(node(t, name)); c != 1 {
		t.Errorf("taint present %d times", c)
	}
	waitUntil(t, 10*time.Second, "resumed drain reported", func() bool {
		return strings.Contains(second.logs(), `"resumed":true`) && strings.Contains(second.logs(), "drain finished: node empty")
	})
}

// TestAgentSIGTERMWhileDraining: the kubelet sends SIGTERM; a draining agent
// finishes its drain before it exits.
func TestAgentSIGTERMWhileDraining(t *testing.T) {
	const name = "e2e-sigterm"
	spotTest(t, name, 5, 8)
	deadline := time.Now().Add(60 * time.Second).UTC().Truncate(time.Second)
	aemm := testenv.StartAEMM(t, "spot", "--imdsv2", "-t", deadline.Format(time.RFC3339), "--rebalance-delay-sec", "100000")
	a := startAgent(t, name, aemm.URL)
	waitUntil(t, 10*time.Second, "cordon", func() bool { return node(t, name).Spec.Unschedulable })
	if err := a.Signal(sigterm); err != nil {
		t.Fatal(err)
	}
	select {
	case <-a.Done():
	case <-time.After(60 * time.Second):
		t.Fatal("agent did not exit after its drain")
	}
	if podsOn(t, name) != 0 || !strings.Contains(a.logs(), "finishing the drain first") || !strings.Contains(a.logs(), "drain finished") {
		t.Errorf("agent exited before the node was empty (%d pods left)", podsOn(t, name))
	}
}

// TestAgentSIGTERMWhenIdle: with no drain running the agent exits at once.
func TestAgentSIGTERMWhenIdle(t *testing.T) {
	spotTest(t, "e2e-idle", 1, 1)
	aemm := quietAEMM(t)
	a := startAgent(t, "e2e-idle", aemm.URL)
	start := time.Now()
	_ = a.Signal(sigterm)
	<-a.Done()
	// The agent itself takes milliseconds; the bound leaves room for a busy CI machine.
	if took := time.Since(start); took > 5*time.Second {
		t.Errorf("idle agent took %v to exit on SIGTERM, want about 1s at most", took)
	}
	t.Logf("idle agent exited %v after SIGTERM", time.Since(start))
	if a.ExitErr() != nil {
		t.Errorf("exit: %v", a.ExitErr())
	}
}

// TestAgentSpotTimeMoving: AEMM without -t moves the Spot notice's time on
// every request, so every poll brings a new notice and withdraws the old
// one. The node must still be drained and stay cordoned: a withdrawal
// superseded by a newer notice of the same kind undoes nothing.
func TestAgentSpotTimeMoving(t *testing.T) {
	const name = "e2e-moving"
	spotTest(t, name, 5, 2)
	aemm := testenv.StartAEMM(t, "spot", "--imdsv2", "--rebalance-delay-sec", "100000")
	a := startAgent(t, name, aemm.URL)
	waitUntil(t, 30*time.Second, "node empty", func() bool { return podsOn(t, name) == 0 })
	time.Sleep(3 * time.Second) // several more moving notices and withdrawals
	n := node(t, name)
	if !n.Spec.Unschedulable || taintCount(n) != 1 {
		t.Errorf("node uncordoned (%v) or taint count %d after superseded withdrawals", n.Spec.Unschedulable, taintCount(n))
	}
	if strings.Contains(a.logs(), "uncordoning") || strings.Contains(a.logs(), "Uncordoned") {
		t.Error("the agent uncordoned on a superseded withdrawal")
	}
	if !strings.Contains(a.logs(), "another notice still needs the node drained") {
		t.Error("no superseded withdrawal happened: the test did not exercise what it names")
	}
}
