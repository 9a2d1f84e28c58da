package agent

import (
	"errors"
	"fmt"
	"time"
)

// The agent's /metrics and probes are served by internal/serve; these are
// its probe checks.

// healthy is ok while the IMDS watch loop keeps cycling (even when IMDS
// fails: that is readiness's business, and restarting would not help).
func (a *Agent) healthy() error {
	limit := 10*a.cfg.PollInterval + 15*time.Second // a poll cycle plus the watcher's longest backoff
	last := a.watcher.LastPoll()
	if last.IsZero() {
		last = a.started
	}
	if age := a.clock.Since(last); age > limit {
		return fmt.Errorf("IMDS watch loop stalled: last poll %v ago", age.Round(time.Second))
	}
	return nil
}

// ready is ok once IMDS has answered and the API server was reached.
func (a *Agent) ready() error {
	switch {
	case a.watcher.LastSuccess().IsZero():
		return errors.New("instance metadata not reached yet: on EKS/kops use hostNetwork: true or an IMDSv2 hop limit of 2")
	case !a.apiReady.Load():
		return errors.New("API server not reached yet: check the service account, RBAC (get nodes) and --node-name")
	}
	return nil
}
