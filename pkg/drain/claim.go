package drain

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"strings"
	"time"

	"go.uber.org/zap"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
)

// ClaimAnnotation, on a node, names the drain that evicts its pods and
// until when that claim lasts: "HOLDER UNTIL" (UNTIL in RFC 3339). A second
// drain of the node at the same time (two agents, or the agent and a queue
// processor) sees a live claim by another holder and only watches the pods
// go, so each pod is evicted once; if the claim is not renewed (its holder
// died) it takes over. The holder is the agent's pod (Policy.SelfNamespace
// and SelfName), so an agent restarted in the same pod resumes at once.
const ClaimAnnotation = "spot-handler.io/drainer"

// claimTTL is how long a claim lasts unless renewed; it is renewed every
// claimTTL/3.
const claimTTL = 15 * time.Second

// claim is a parsed ClaimAnnotation.
type claim struct {
	holder string
	until  time.Time
}

func parseClaim(s string) (claim, bool) {
	h, u, ok := strings.Cut(s, " ")
	if !ok || h == "" {
		return claim{}, false
	}
	t, err := time.Parse(time.RFC3339Nano, u)
	if err != nil {
		return claim{}, false
	}
	return claim{holder: h, until: t}, true
}

func (c claim) String() string { return c.holder + " " + c.until.UTC().Format(time.RFC3339Nano) }

// holderID names this Drainer in claims.
func holderID(p Policy) string {
	if p.SelfName != "" {
		return p.SelfNamespace + "/" + p.SelfName
	}
	b := make([]byte, 6)
	_, _ = rand.Read(b)
	return "drainer-" + hex.EncodeToString(b)
}

// claimPatch returns the ops that make holder the node's drainer until
// now + claimTTL, and true; or nil and false while another holder's claim
// is live. The ops are guarded: if someone else claims the node in
// between, the patch fails and is built again from a fresh read.
func claimPatch(n *corev1.Node, holder string, now time.Time) ([]patchOp, bool) {
	path := "/metadata/annotations/" + pointer(ClaimAnnotation)
	cur, has := n.Annotations[ClaimAnnotation]
	if c, ok := parseClaim(cur); has && ok && c.holder != holder && now.Before(c.until) {
		return nil, false
	}
	var guard patchOp
	if has {
		guard = testOp(path, cur)
	} else {
		guard = testOp(path, nil)
	}
	return []patchOp{guard, {Op: "add", Path: path, Value: claim{holder: holder, until: now.Add(claimTTL)}.String()}}, true
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

// tryClaim claims the node for this drain if no one else holds it; it
// reports whether this drain holds it now.
func (d *Drainer) tryClaim(ctx context.Context, node string) bool {
	mine := false
	err := retryTransient(ctx, d.clock, func(ctx context.Context) error {
		return patchNode(ctx, d.client, node, func(n *corev1.Node) ([]patchOp, error) {
			ops, ok := claimPatch(n, d.holder, d.clock.Now())
			mine = ok
			return ops, nil
		})
	})
	if err != nil {
		d.log.Warn("claiming the node's drain failed", zap.String("node", node), zap.Error(err))
		return false
	}
	return mine
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
