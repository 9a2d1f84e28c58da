package agent

import (
	"regexp"

	"go.uber.org/zap"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
)

// NodeNameClaim is the user-info extra that a ServiceAccount token bound
// to a pod on a node carries (Kubernetes 1.32 or newer): the node's name.
// The chart's node-bound policy lets the agent change that node only.
const NodeNameClaim = "authentication.kubernetes.io/node-name"

// denial is a request refused by a ValidatingAdmissionPolicy.
type denial struct{ policy, binding, message string }

// denialWords are the API server's words for such a refusal, a 403 (the
// validating admission policy dispatcher of k8s.io/apiserver, v1.37).
var denialWords = regexp.MustCompile(`ValidatingAdmissionPolicy '([^']+)' with binding '([^']*)' denied request: (.*)$`)

// policyDenial reports whether err is a refusal by a
// ValidatingAdmissionPolicy, and which.
func policyDenial(err error) (denial, bool) {
	if !apierrors.IsForbidden(err) {
		return denial{}, false
	}
	m := denialWords.FindStringSubmatch(err.Error())
	if m == nil {
		return denial{}, false
	}
	return denial{policy: m[1], binding: m[2], message: m[3]}, true
}

// deniedByPolicy counts err if a ValidatingAdmissionPolicy refused it and,
// unless *told, logs it, once: the policy, the node claim the chart's
// node-bound policy expects and what to fix. It reports whether err is
// such a refusal (the caller retries it with its backoff, quietly).
func (a *Agent) deniedByPolicy(err error, told *bool, log *zap.Logger) bool {
	d, ok := policyDenial(err)
	if !ok {
		return false
	}
	a.m.PolicyDenials.WithLabelValues(d.policy).Inc()
	if !*told {
		*told = true
		log.Error("an admission policy refused the agent's change of its node; retrying with backoff (logged once): "+
			"the agent needs the ServiceAccount token the kubelet projects into its pod, bound to the pod on this node",
			zap.String("policy", d.policy), zap.String("binding", d.binding),
			zap.String("claim_expected", NodeNameClaim+"="+a.cfg.NodeName), zap.String("message", d.message))
	}
	return true
}
