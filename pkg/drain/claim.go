package drain

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"strings"
	"time"

	"go.uber.org/zap"
	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
)

// ClaimAnnotation, on a node, names the drain that evicts its pods, until
// when that claim lasts and the deadline that drain works to: "HOLDER UNTIL
// DEADLINE" (RFC 3339; DEADLINE absent in claims from before it). A second
// drain of the node at the same time (two agents, or the agent and a queue
// processor) sees a live claim by another holder and only watches the pods
// go, so each pod is evicted once; if the claim is not renewed (its holder
// died) it takes over. A drain whose deadline is more than preemptLead
// earlier than the holder's takes the claim at once: a Spot interruption
// two minutes out is not left to a drain that works to a maintenance
// window two weeks out and may wait on a PodDisruptionBudget for days. The
// holder is the agent's pod (Policy.SelfNamespace and SelfName), so an
// agent restarted in the same pod resumes at once.
const ClaimAnnotation = "spot-handler.io/drainer"

// claimTTL is how long a claim lasts unless renewed; it is renewed every
// claimTTL/3.
const claimTTL = 15 * time.Second

// preemptLead is how much earlier a drain's deadline must be than the
// claim holder's for it to take a live claim: enough that two handlers of
// one interruption (the agent's IMDS notice and the controller's message,
// seconds apart) never take it from each other.
const preemptLead = time.Minute

// claim is a parsed ClaimAnnotation.
type claim struct {
	holder   string
	until    time.Time
	deadline time.Time // zero in a claim from before deadlines were recorded
}

func parseClaim(s string) (claim, bool) {
	f := strings.Fields(s)
	if len(f) < 2 || len(f) > 3 {
		return claim{}, false
	}
	t, err := time.Parse(time.RFC3339Nano, f[1])
	if err != nil {
		return claim{}, false
	}
	c := claim{holder: f[0], until: t}
	if len(f) == 3 {
		if c.deadline, err = time.Parse(time.RFC3339Nano, f[2]); err != nil {
			return claim{}, false
		}
	}
	return c, true
}

func (c claim) String() string {
	s := c.holder + " " + c.until.UTC().Format(time.RFC3339Nano)
	if !c.deadline.IsZero() {
		s += " " + c.deadline.UTC().Format(time.RFC3339Nano)
	}
	return s
}

// yields reports whether a live claim c gives way to a drain that must be
// done by deadline: c's own deadline is known and more than preemptLead
// later.
func (c claim) yields(deadline time.Time) bool {
	return !c.deadline.IsZero() && !deadline.IsZero() && deadline.Before(c.deadline.Add(-preemptLead))
}

// holderID names this Drainer in claims.
func holderID(p Policy) string {
	if p.SelfName != "" {
		return p.SelfNamespace + "/" + p.SelfName
	}
	b := make([]byte, 6)
	_, _ = rand.Read(b)
	return "drainer-" + hex.EncodeToString(b)
}

// claimPatch returns the ops that make holder, draining to deadline, the
// node's drainer until now + claimTTL, and true; or nil and false while
// another holder's claim is live and does not yield to deadline. The ops
// are guarded: if someone else claims the node in between, the patch fails
// and is built again from a fresh read.
func claimPatch(n *corev1.Node, holder string, now, deadline time.Time) ([]patchOp, bool) {
	path := "/metadata/annotations/" + pointer(ClaimAnnotation)
	cur, has := n.Annotations[ClaimAnnotation]
	if c, ok := parseClaim(cur); has && ok && c.holder != holder && now.Before(c.until) && !c.yields(deadline) {
		return nil, false
	}
	var guard patchOp
	if has {
		guard = testOp(path, cur)
	} else {
		guard = testOp(path, nil)
	}
	return []patchOp{guard, {Op: "add", Path: path, Value: claim{holder: holder, until: now.Add(claimTTL), deadline: deadline}.String()}}, true
}

// unclaimPatch removes holder's claim, if it is still holder's.
func unclaimPatch(n *corev1.Node, holder string) []patchOp {
	cur, has := n.Annotations[ClaimAnnotation]
	if c, ok := parseClaim(cur); !has || !ok || c.holder != holder {
		return nil
	}
	path := "/metadata/annotations/" + pointer(ClaimAnnotation)
	return []patchOp{testOp(path, cur), {Op: "remove", Path: path}}
}

// tryClaim claims the node for this drain, which works to deadline, if no
// one else holds it or the holder's claim yields to deadline. It reports
// whether this drain holds it now, and whether another drain's live claim
// kept it from doing so (false for an API failure: nothing is known).
func (d *Drainer) tryClaim(ctx context.Context, node string, deadline time.Time) (mine, taken bool) {
	err := retryTransient(ctx, d.clock, func(ctx context.Context) error {
		return patchNode(ctx, d.client, node, func(n *corev1.Node) ([]patchOp, error) {
			ops, ok := claimPatch(n, d.holder, d.clock.Now(), deadline)
			mine, taken = ok, !ok
			return ops, nil
		})
	})
	switch {
	case err != nil && apierrors.IsForbidden(err):
		// As for the mark (see Drain): evicting without the claim beats
		// leaving the pods; a second drain may then evict them too.
		d.log.Warn("the API forbids writing the node's drain claim; this drain evicts without it", zap.String("node", node), zap.Error(err))
		return true, false
	case err != nil:
		d.log.Warn("claiming the node's drain failed", zap.String("node", node), zap.Error(err))
		return false, false
	}
	return mine, taken
}

// unclaim gives the claim up at the drain's end, so the next drain of the
// node need not wait for it to expire.
func (d *Drainer) unclaim(node string) {
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	err := patchNode(ctx, d.client, node, func(n *corev1.Node) ([]patchOp, error) {
		return unclaimPatch(n, d.holder), nil
	})
	if err != nil {
		d.log.Debug("releasing the node's drain claim failed; it expires by itself", zap.String("node", node), zap.Error(err))
	}
}

// claimHolder names the holder of the node's claim, for the report.
func (d *Drainer) claimHolder(ctx context.Context, node string) string {
	n, err := d.client.CoreV1().Nodes().Get(ctx, node, metav1.GetOptions{})
	if err != nil {
		return "(unknown)"
	}
	c, _ := parseClaim(n.Annotations[ClaimAnnotation])
	return c.holder
}
