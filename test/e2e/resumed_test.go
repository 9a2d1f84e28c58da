package e2e

import (
	"bufio"
	"encoding/json"
	"strings"
	"testing"
	"time"

	"github.com/spot-handler/spot-handler/internal/testenv"
)

// logEntry is the first JSON log line of logs whose message is msg, or nil.
func logEntry(logs, msg string) map[string]any {
	sc := bufio.NewScanner(strings.NewReader(logs))
	sc.Buffer(make([]byte, 1<<20), 1<<20)
	for sc.Scan() {
		var e map[string]any
		if json.Unmarshal(sc.Bytes(), &e) == nil && e["msg"] == msg {
			return e
		}
	}
	return nil
}

// wantResumed fails the test unless the agent logged msg with the field
// resumed equal to want.
func wantResumed(t *testing.T, who string, a *agentProc, msg string, want bool) {
	t.Helper()
	e := logEntry(a.logs(), msg)
	if e == nil {
		t.Errorf("%s agent: no %q log line", who, msg)
		return
	}
	if got, ok := e["resumed"].(bool); !ok || got != want {
		t.Errorf("%s agent: %q logged resumed=%v, want %v", who, msg, e["resumed"], want)
	}
}

// spotIn starts AEMM with a Spot notice whose deadline is in from now and
// no rebalance recommendation.
func spotIn(t *testing.T, in time.Duration) *testenv.AEMM {
	t.Helper()
	deadline := time.Now().Add(in).UTC().Truncate(time.Second)
	return testenv.StartAEMM(t, "spot", "--imdsv2", "-t", deadline.Format(time.RFC3339), "--rebalance-delay-sec", "100000")
}

// TestAgentFirstDrainIsNotResumed: the first agent to see a Spot notice
// cordons the node itself before its drain reads the node; neither the
// drain's plan nor the report may call that drain resumed.
func TestAgentFirstDrainIsNotResumed(t *testing.T) {
	const name = "e2e-first-drain"
	spotTest(t, name, 3, 1)
	aemm := spotIn(t, 90*time.Second)
	a := startAgent(t, name, aemm.URL)
	waitUntil(t, 60*time.Second, "drain finished", func() bool { return logEntry(a.logs(), "drain finished: node empty") != nil })
	wantResumed(t, "the", a, "drain planned", false)
	wantResumed(t, "the", a, "drain finished: node empty", false)
}

// TestAgentDrainResumedOnlyAfterRestart: an agent killed mid-drain (its
// evictions held at the fault proxy) had planned a drain that was not
// resumed; the agent restarted in the same pod (same claim holder, new
// process) plans and reports its drain as resumed.
func TestAgentDrainResumedOnlyAfterRestart(t *testing.T) {
	const name = "e2e-resumed-flag"
	ns := spotTest(t, name, 4, 1)
	faults := plane.Faults(t)
	held := faults.Add(testenv.Rule{Match: testenv.Match{Method: "POST", Path: "^/api/v1/namespaces/" + ns + "/pods/[^/]+/eviction$"}, Hang: true})
	aemm := spotIn(t, 90*time.Second)
	first := startAgentVia(t, faults.Kubeconfig, name, aemm.URL)
	waitUntil(t, 30*time.Second, "the first agent's evictions held", func() bool { return held.Hits() >= 4 })
	first.kill()
	held.Release()
	wantResumed(t, "first", first, "drain planned", false)
	second := startAgentVia(t, faults.Kubeconfig, name, aemm.URL)
	waitUntil(t, 60*time.Second, "the restarted agent's drain finished", func() bool {
		return logEntry(second.logs(), "drain finished: node empty") != nil
	})
	wantResumed(t, "restarted", second, "drain planned", true)
	wantResumed(t, "restarted", second, "drain finished: node empty", true)
}
