package imds

import (
	"sync"
	"time"

	"go.uber.org/zap"
	"k8s.io/utils/clock"
)

// hintInterval is the least time between two logs of the same hint, so a
// persistent fault is explained every few minutes instead of every second.
const hintInterval = 5 * time.Minute

// Fixes logged with a hint.
const (
	fixForbidden = "IMDS is disabled for this instance: enable it with " +
		"'aws ec2 modify-instance-metadata-options --instance-id ID --http-endpoint enabled " +
		"--http-tokens required --http-put-response-hop-limit 2' (or the launch template's " +
		"MetadataOptions), or run the agent with hostNetwork: true"
	fixHopLimit = "the IMDSv2 token request got no answer: from a pod this means the instance's " +
		"metadata hop limit is 1, so the token response never reaches the pod; set " +
		"HttpPutResponseHopLimit to 2 in the launch template (or 'aws ec2 " +
		"modify-instance-metadata-options --http-put-response-hop-limit 2'), or run the " +
		"agent with hostNetwork: true"
)

// hints logs, at most once per hintInterval for each outcome, an error that
// says why IMDS is unreachable from the pod and how to fix it.
type hints struct {
	log   *zap.Logger
	clock clock.PassiveClock
	mu    sync.Mutex
	last  map[string]time.Time
}

// newHints returns a rate-limited hint logger.
func newHints(log *zap.Logger, clk clock.PassiveClock) *hints {
	return &hints{log: log, clock: clk, last: map[string]time.Time{}}
}

// unreachable logs the hint for outcome (forbidden, or a timeout of the
// token request) unless it was logged within hintInterval.
func (h *hints) unreachable(path, outcome string) {
	now := h.clock.Now()
	h.mu.Lock()
	last, seen := h.last[outcome]
	if seen && now.Sub(last) < hintInterval {
		h.mu.Unlock()
		return
	}
	h.last[outcome] = now
	h.mu.Unlock()

	fix := fixHopLimit
	msg := "IMDS token request timed out: instance metadata is unreachable from this pod"
	if outcome == OutcomeForbidden {
		fix = fixForbidden
		msg = "IMDS answered 403 Forbidden: instance metadata is disabled or unreachable from this pod"
	}
	h.log.Error(msg,
		zap.String("path", path),
		zap.String("outcome", outcome),
		zap.String("fix", fix),
		zap.Duration("repeats_every", hintInterval))
}
