package chart_test

import (
	"context"
	"strings"
	"testing"
	"time"

	"github.com/spot-handler/spot-handler/internal/testenv"
)

// checkAgentRefused runs the agent binary with a token bound to no pod (as
// a long-lived Secret token would be) under the node-bound policy, with a
// Spot notice at once: every cordon it tries is refused by the policy. The
// agent must say so once, naming the policy and the claim it expected,
// count each refusal (spot_handler_kube_api_policy_denials_total), and
// retry with its backoff, not in a tight loop.
func checkAgentRefused(t *testing.T, ctx context.Context, p *testenv.Plane, ns string) {
	node := "refused"
	if _, err := p.NewNode(ctx, node, map[string]string{"spot": "true"}); err != nil {
		t.Fatal(err)
	}
	kubeconfig := tokenKubeconfig(t, p.Config, mintToken(t, ctx, p, ns, "spot-handler", nil))
	deadline := time.Now().Add(2 * time.Minute).UTC().Format(time.RFC3339)
	aemm := testenv.StartAEMM(t, "spot", "--imdsv2", "-a", "terminate", "-t", deadline, "--rebalance-delay-sec", "100000")
	agent, err := testenv.StartAgent(agentBinary(t), kubeconfig, node, aemm.URL)
	if err != nil {
		t.Fatal(err)
	}
	agent.KillAtCleanup(t, "agent log:", 0)

	refused := func() float64 {
		v, _ := agent.Metric("spot_handler_kube_api_requests_total", `method="PATCH"`, `code="403"`)
		return v
	}
	testenv.WaitUntil(t, time.Minute, "the agent's cordon refused", func() bool { return refused() >= 2 })
	// Over a window of 10 s the agent retries at its backoff's pace (at
	// most one attempt per 2 s once it has grown), not in a loop.
	first := refused()
	time.Sleep(10 * time.Second)
	if n := refused() - first; n < 1 || n > 10 {
		t.Errorf("%v refused node patches in 10 s, want 1 to 10: the agent keeps retrying with its backoff, no faster", n)
	}
	if n, all := agent.MustMetric(t, "spot_handler_kube_api_policy_denials_total", `policy="`+policyName+`"`), refused(); n < 2 || n > all {
		t.Errorf("spot_handler_kube_api_policy_denials_total{policy=%q} = %v, want each of the %v refusals counted", policyName, n, all)
	}
	var said []string
	for _, l := range strings.Split(agent.Logs(), "\n") {
		if strings.Contains(l, policyName) {
			said = append(said, l)
		}
	}
	if len(said) != 1 || !strings.Contains(said[0], nodeNameClaim+"="+node) {
		t.Errorf("the agent named the policy %s in %d log lines, want once, with the claim it expected (%s=%s):\n%s",
			policyName, len(said), nodeNameClaim, node, strings.Join(said, "\n"))
	}
}
