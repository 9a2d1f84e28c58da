package drain

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"net/url"
	"syscall"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	policyv1 "k8s.io/api/policy/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime/schema"
)

// statusErr builds the error client-go returns for an API answer.
func statusErr(code int32, reason metav1.StatusReason, msg string, details *metav1.StatusDetails) error {
	return &apierrors.StatusError{ErrStatus: metav1.Status{Status: metav1.StatusFailure, Code: code, Reason: reason, Message: msg, Details: details}}
}

func pdb429(name string) error {
	// The shape of the eviction REST handler's answer (Kubernetes v1.37).
	return statusErr(429, metav1.StatusReasonTooManyRequests, "Cannot evict pod as it would violate the pod's disruption budget.",
		&metav1.StatusDetails{Causes: []metav1.StatusCause{{Type: policyv1.DisruptionBudgetCause,
			Message: "The disruption budget " + name + " needs 2 healthy pods and has 2 currently"}}})
}

func TestAnswerOf(t *testing.T) {
	pods := schema.GroupResource{Resource: "pods"}
	urlErr := func(err error) error { return &url.Error{Op: "Post", URL: "https://127.0.0.1:1/x", Err: err} }
	for _, c := range []struct {
		name string
		err  error
		want answerKind
		pdb  string
		wait time.Duration
	}{
		{"201", nil, accepted, "", 0},
		{"404", apierrors.NewNotFound(pods, "p"), goneAnswer, "", 0},
		{"409 UID precondition: replaced", apierrors.NewConflict(pods, "p", errors.New("Precondition failed: UID in precondition: a, UID in object meta: b")), goneAnswer, "", 0},
		{"409 PDB update raced", apierrors.NewConflict(schema.GroupResource{Group: "policy", Resource: "poddisruptionbudgets"}, "b", errors.New("the object has been modified")), retryable, "", 0},
		{"429 naming a PDB", pdb429("web-pdb"), pdbBlocked, "web-pdb", 0},
		{"429 PDB still being processed", statusErr(429, metav1.StatusReasonTooManyRequests, "Cannot evict pod as it would violate the pod's disruption budget.",
			&metav1.StatusDetails{Causes: []metav1.StatusCause{{Type: policyv1.DisruptionBudgetCause, Message: "The disruption budget db is still being processed by the server."}}}), pdbBlocked, "db", 0},
		{"429 from API priority and fairness", apierrors.NewTooManyRequests("Too many requests, please try again later.", 3), retryable, "", 3 * time.Second},
		{"500 two PDBs", apierrors.NewInternalError(errors.New("This pod has more than one PodDisruptionBudget, which the eviction subresource does not support.")), refused, "", 0},
		{"500 etcd", apierrors.NewInternalError(errors.New("etcdserver: leader changed")), retryable, "", 0},
		{"503", apierrors.NewServiceUnavailable("unavailable"), retryable, "", 0},
		{"504 timeout", apierrors.NewTimeoutError("timed out", 1), retryable, "", time.Second},
		{"403 admission webhook", apierrors.NewForbidden(pods, "p", errors.New(`admission webhook "deny.example.com" denied the request`)), refused, "", 0},
		{"400 policy", apierrors.NewBadRequest("evictions are disabled in this namespace"), refused, "", 0},
		{"422 policy", apierrors.NewInvalid(schema.GroupKind{Kind: "Eviction"}, "p", nil), refused, "", 0},
		{"connection refused", urlErr(&net.OpError{Op: "dial", Err: syscall.ECONNREFUSED}), retryable, "", 0},
		{"connection reset", urlErr(syscall.ECONNRESET), retryable, "", 0},
		{"EOF", urlErr(io.EOF), retryable, "", 0},
		{"client timeout", urlErr(context.DeadlineExceeded), retryable, "", 0},
		{"unknown", errors.New("something odd"), retryable, "", 0},
	} {
		t.Run(c.name, func(t *testing.T) {
			a := answerOf(c.err)
			if a.kind != c.want || a.pdb != c.pdb || a.wait != c.wait {
				t.Errorf("answerOf(%v) = %+v, want kind %d pdb %q wait %v", c.err, a, c.want, c.pdb, c.wait)
			}
			if c.err != nil && a.message == "" {
				t.Errorf("no message kept")
			}
		})
	}
	if a := answerOf(apierrors.NewForbidden(pods, "p", errors.New("no"))); !a.forbidden || a.nsGoing {
		t.Error("403 not marked forbidden, or marked as a namespace being deleted")
	}
	going := apierrors.NewForbidden(pods, "p", errors.New("unable to create new content in namespace ns because it is being terminated"))
	going.ErrStatus.Details.Causes = append(going.ErrStatus.Details.Causes, metav1.StatusCause{Type: corev1.NamespaceTerminatingCause})
	if a := answerOf(going); a.kind != refused || !a.nsGoing {
		t.Errorf("the 403 of a namespace being deleted: %+v, want refused and nsGoing", a)
	}
	if a := answerOf(apierrors.NewInternalError(errors.New("This pod has more than one PodDisruptionBudget, which the eviction subresource does not support."))); a.message == "" || a.message[:8] != "Internal" {
		t.Errorf("two-PDB message %q, want the API's own words", a.message)
	}
}

func TestTransient(t *testing.T) {
	for _, c := range []struct {
		err  error
		want bool
	}{
		{nil, false},
		{apierrors.NewServiceUnavailable("x"), true},
		{apierrors.NewTooManyRequests("slow down", 1), true},
		{pdb429("x"), false},
		{apierrors.NewNotFound(schema.GroupResource{Resource: "nodes"}, "n"), false},
		{apierrors.NewForbidden(schema.GroupResource{Resource: "pods"}, "", errors.New("no")), false},
		{fmt.Errorf("listing pods on node n: %w", apierrors.NewServiceUnavailable("x")), true},
		{&url.Error{Op: "Get", URL: "u", Err: syscall.ECONNREFUSED}, true},
	} {
		if got := transient(c.err); got != c.want {
			t.Errorf("transient(%v) = %v, want %v", c.err, got, c.want)
		}
	}
}

func TestBackoff(t *testing.T) {
	for _, c := range []struct {
		name   string
		jitter float64
		hint   time.Duration
		want   []time.Duration
	}{
		{"no jitter: the lower half", 0, 0, []time.Duration{100 * time.Millisecond, 200 * time.Millisecond, 400 * time.Millisecond, 800 * time.Millisecond, time.Second, time.Second}},
		{"full jitter: the upper bound", 0.999999, 0, []time.Duration{200 * time.Millisecond, 400 * time.Millisecond, 800 * time.Millisecond, 1600 * time.Millisecond, 2 * time.Second, 2 * time.Second}},
		{"Retry-After wins when longer", 0, 3 * time.Second, []time.Duration{3 * time.Second, 3 * time.Second}},
	} {
		t.Run(c.name, func(t *testing.T) {
			b := backoff{jitter: func() float64 { return c.jitter }}
			for i, w := range c.want {
				got := b.next(c.hint).Round(time.Millisecond)
				if got != w {
					t.Errorf("wait %d = %v, want %v", i, got, w)
				}
			}
		})
	}
}
