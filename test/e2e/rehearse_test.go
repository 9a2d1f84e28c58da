package e2e

import (
	"strings"
	"testing"
	"time"

	"github.com/spot-handler/spot-handler/internal/agent"
)

// TestRehearse runs `spot-handler rehearse` against an agent started with
// --allow-rehearsal: the command annotates the node, the agent drains it,
// the command prints the timeline and exits 0; --undo uncordons.
func TestRehearse(t *testing.T) {
	const name = "e2e-rehearse"
	spotTest(t, name, 6, 3)
	aemm := quietAEMM(t)
	startAgent(t, name, aemm.URL, "--allow-rehearsal")
	out, code := run(binary, "rehearse", "--node", name, "--kubeconfig", plane.Kubeconfig, "--in", "45s")
	t.Log(out)
	if code != 0 {
		t.Fatalf("rehearse exit %d", code)
	}
	for _, want := range []string{"rehearsal requested", "notice detected by the agent: SpotInterruption", "node cordoned", "evicted (grace 3s", "VERDICT: OK"} {
		if !strings.Contains(out, want) {
			t.Errorf("timeline lacks %q", want)
		}
	}
	if strings.Count(out, " gone\n") != 6 {
		t.Errorf("want 6 pods gone in the timeline")
	}
	out, code = run(binary, "rehearse", "--node", name, "--kubeconfig", plane.Kubeconfig, "--undo")
	if code != 0 {
		t.Fatalf("undo: exit %d: %s", code, out)
	}
	waitUntil(t, 15*time.Second, "uncordon after undo", func() bool {
		n := node(t, name)
		return !n.Spec.Unschedulable && taintCount(n) == 0 && n.Annotations[agent.RehearsalAnnotation] == ""
	})
}

// TestRehearsalIgnoredWithoutFlag: an agent without --allow-rehearsal
// leaves an annotated node alone.
func TestRehearsalIgnoredWithoutFlag(t *testing.T) {
	const name = "e2e-no-rehearsal"
	spotTest(t, name, 2, 1)
	aemm := quietAEMM(t)
	startAgent(t, name, aemm.URL)
	out, code := run(binary, "rehearse", "--node", name, "--kubeconfig", plane.Kubeconfig, "--in", "20s", "--timeout", "8s")
	if code == 0 || !strings.Contains(out, "--allow-rehearsal") {
		t.Errorf("exit %d, output %q: want a failure that names --allow-rehearsal", code, out)
	}
	if node(t, name).Spec.Unschedulable || podsOn(t, name) != 2 {
		t.Error("agent without --allow-rehearsal drained the node")
	}
}
