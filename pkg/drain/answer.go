package drain

import (
	"errors"
	"strings"
	"time"

	corev1 "k8s.io/api/core/v1"
	policyv1 "k8s.io/api/policy/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
)

// answerKind is what an eviction or delete answer means for the pod.
type answerKind int

const (
	// accepted: 201/200, the pod is terminating.
	accepted answerKind = iota
	// goneAnswer: 404, or 409 on the UID precondition: this pod is gone
	// (perhaps replaced by a namesake).
	goneAnswer
	// pdbBlocked: 429 naming a PodDisruptionBudget.
	pdbBlocked
	// refused: a lasting refusal that is not a PDB's 429: the 500 for a pod
	// under more than one PDB, a 403/400/422 from RBAC, an admission
	// webhook or a policy. Treated like a PDB block, with the API's message.
	refused
	// retryable: the API failed for a passing reason (5xx, throttling 429,
	// timeout, connection refused or reset): try again.
	retryable
)

// answer is an eviction or delete answer, sorted.
type answer struct {
	kind answerKind
	// pdb names the budget (pdbBlocked), namespace-less.
	pdb string
	// message is the API's own words (refused, retryable).
	message string
	// wait is the Retry-After the API asked for, or 0.
	wait time.Duration
	// forbidden is true for a 403 (RBAC, or a webhook that forbids).
	forbidden bool
	// nsGoing is true for the 403 the NamespaceLifecycle admission gives
	// an eviction in a namespace being deleted (cause NamespaceTerminating):
	// no missing right, and the namespace's deletion removes the pod anyway.
	nsGoing bool
}

// answerOf sorts the error an eviction or delete request returned.
// Sources for the shapes: the apiserver's eviction REST handler
// (pkg/registry/core/pod/storage/eviction.go, Kubernetes v1.37): a PDB's
// 429 carries a cause of type DisruptionBudget whose message starts
// "The disruption budget NAME"; a pod under two PDBs gets a 500 "This pod
// has more than one PodDisruptionBudget, which the eviction subresource
// does not support."; a failed UID precondition is a 409 "Precondition
// failed: UID in precondition: ...".
func answerOf(err error) answer {
	if err == nil {
		return answer{kind: accepted}
	}
	msg := err.Error()
	if se := (apierrors.APIStatus)(nil); errors.As(err, &se) && se.Status().Message != "" {
		msg = se.Status().Message
	}
	if name, ok := pdbCause(err); ok {
		return answer{kind: pdbBlocked, pdb: name, message: msg, wait: retryAfter(err)}
	}
	switch {
	case apierrors.IsNotFound(err):
		return answer{kind: goneAnswer, message: msg}
	case apierrors.IsConflict(err) && strings.Contains(msg, "Precondition failed"):
		return answer{kind: goneAnswer, message: msg}
	case isMultiPDB(err):
		return answer{kind: refused, message: msg}
	case transient(err), apierrors.IsConflict(err):
		// A 409 that is not the precondition is a PDB status update that
		// raced another eviction: ask again.
		return answer{kind: retryable, message: msg, wait: retryAfter(err)}
	}
	var se apierrors.APIStatus
	if errors.As(err, &se) {
		return answer{kind: refused, message: msg, forbidden: apierrors.IsForbidden(err),
			nsGoing: apierrors.IsForbidden(err) && apierrors.HasStatusCause(err, corev1.NamespaceTerminatingCause)}
	}
	// Not an API answer and not a known connection failure: retry rather
	// than give up on the pod.
	return answer{kind: retryable, message: msg}
}

// pdbCause returns the name of the PodDisruptionBudget behind a 429, and
// whether err is one.
func pdbCause(err error) (string, bool) {
	var se apierrors.APIStatus
	if !apierrors.IsTooManyRequests(err) || !errors.As(err, &se) {
		return "", false
	}
	d := se.Status().Details
	if d == nil {
		return "", false
	}
	for _, c := range d.Causes {
		if c.Type != policyv1.DisruptionBudgetCause && !strings.HasPrefix(c.Message, "The disruption budget ") {
			continue
		}
		if rest, ok := strings.CutPrefix(c.Message, "The disruption budget "); ok {
			if name, _, ok := strings.Cut(rest, " "); ok {
				return name, true
			}
		}
		return "(unnamed)", true
	}
	return "", false
}

// isMultiPDB reports the 500 the eviction API gives a pod matched by more
// than one PodDisruptionBudget.
func isMultiPDB(err error) bool {
	return apierrors.IsInternalError(err) && strings.Contains(err.Error(), "more than one PodDisruptionBudget")
}
