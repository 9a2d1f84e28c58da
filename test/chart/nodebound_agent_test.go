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
// Spot notice at once: its cordon is refused by the policy. The agent must
// say so once, naming the policy and the claim it expected, count the
// refusal (spot_handler_kube_api_policy_denials_total), and not retry it in
// a loop: no retry mends a refusal, so it drains without the mark (0b74c25).
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
	testenv.WaitUntil(t, time.Minute, "the agent's cordon refused", func() bool { return refused() >= 1 })
	// Over a window of 10 s the agent does not try again (a few refusals of
	// the drain's own writes may still land in it), let alone in a loop.
	first := refused()
	time.Sleep(10 * time.Second)
	if n := refused() - first; n > 3 {
		t.Errorf("%v refused node patches in 10 s after the first, want at most 3: the agent does not retry a refusal", n)
	}
	if n, all := agent.MustMetric(t, "spot_handler_kube_api_policy_denials_total", `policy="`+policyName+`"`), refused(); n < 1 || n > all {
		t.Errorf("spot_handler_kube_api_policy_denials_total{policy=%q} = %v, want the refusal counted (%v refused patches)", policyName, n, all)
	}
	var said []string
	for _, l := range strings.Split(agent.Logs(), "\n") {
		if strings.Contains(l, "an admission policy refused") {
			said = append(said, l)
		}
	}
	if len(said) != 1 || !strings.Contains(said[0], policyName) || !strings.Contains(said[0], nodeNameClaim+"="+node) {
		t.Errorf("the agent said its change was refused by policy %s in %d log lines, want once, with the policy and the claim it expected (%s=%s):\n%s",
			policyName, len(said), nodeNameClaim, node, strings.Join(said, "\n"))
	}
}
