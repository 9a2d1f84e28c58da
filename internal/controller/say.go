package controller

import (
	"context"
	"errors"
	"fmt"
	"io"
	"strings"
	"sync"
	"time"

	"github.com/aws/smithy-go"
	"go.uber.org/zap"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/client-go/tools/cache"
)

// Say what is wrong, as the agent does: one clear line when something the
// controller needs stops working (the API server, the leader Lease, the
// node index, the queue), naming the flag or permission to check, one more
// when what is wrong changes, and one on recovery; never a line per retry.

// trouble is what the controller knows to be wrong, by what.
type trouble struct {
	mu   sync.Mutex
	log  *zap.Logger
	what map[string]string // what → the class of the current failure
}

func newTrouble(log *zap.Logger) *trouble { return &trouble{log: log, what: map[string]string{}} }

// fail records that what fails with err: it logs line (with the hint for
// err's class) when what was fine or failed otherwise, and nothing else.
func (t *trouble) fail(what, line string, err error, hint func(class string) string, fields ...zap.Field) {
	class := classOf(err)
	t.mu.Lock()
	same := t.what[what] == class
	t.what[what] = class
	t.mu.Unlock()
	if same {
		return
	}
	t.log.Error(line+": "+hint(class)+" (logged once until this changes or recovers)", append(fields, zap.String("failure", class), zap.Error(err))...)
}

// ok records that what works; if it failed before, it says so.
func (t *trouble) ok(what, line string, fields ...zap.Field) {
	t.mu.Lock()
	_, failed := t.what[what]
	delete(t.what, what)
	t.mu.Unlock()
	if failed {
		t.log.Info(line, fields...)
	}
}

// failing reports whether what is failing now.
func (t *trouble) failing(what string) bool {
	t.mu.Lock()
	defer t.mu.Unlock()
	_, ok := t.what[what]
	return ok
}

// Failure classes.
const (
	classDenied      = "denied"      // credentials or permissions refused
	classNotFound    = "not found"   // the queue, namespace or object does not exist
	classUnreachable = "unreachable" // no answer, refused connection, timeout, 5xx
)

// classOf sorts err into a failure class.
func classOf(err error) string {
	var api smithy.APIError
	if errors.As(err, &api) {
		code := api.ErrorCode()
		switch {
		case strings.Contains(code, "AccessDenied"), strings.Contains(code, "UnrecognizedClient"),
			strings.Contains(code, "InvalidClientTokenId"), strings.Contains(code, "SignatureDoesNotMatch"),
			strings.Contains(code, "ExpiredToken"), strings.Contains(code, "InvalidSecurity"), code == "AuthFailure":
			return classDenied
		case strings.Contains(code, "NonExistentQueue"), strings.Contains(code, "QueueDoesNotExist"):
			return classNotFound
		}
		return "refused: " + code
	}
	switch {
	case apierrors.IsForbidden(err), apierrors.IsUnauthorized(err):
		return classDenied
	case apierrors.IsNotFound(err):
		return classNotFound
	}
	return classUnreachable
}

// sqsHint is what to check when receiving from the queue fails.
func sqsHint(class string) string {
	switch class {
	case classDenied:
		return "AWS refuses the controller's credentials or the role lacks sqs:ReceiveMessage on the queue: check the IAM role (IRSA or Pod Identity) and its policy"
	case classNotFound:
		return "there is no such queue: check --queue-url and --region"
	case classUnreachable:
		return "SQS does not answer: check --queue-url, --region, --endpoint-url and the network path to SQS"
	}
	return "SQS refuses the request: check --queue-url, --region and the role's sqs:ReceiveMessage, sqs:DeleteMessage and sqs:ChangeMessageVisibility permissions"
}

// kubeHint is what to check when the API server fails the node index.
func kubeHint(class string) string {
	switch class {
	case classDenied:
		return "the API server refuses the controller: its ServiceAccount needs get, list and watch on nodes (the chart's ClusterRole), or its credentials are refused: check --kubeconfig"
	case classUnreachable:
		return "the API server is unreachable: check --kubeconfig (in a pod: the in-cluster service account and KUBERNETES_SERVICE_HOST) and that the API server is up"
	}
	return "check --kubeconfig and the ServiceAccount's RBAC on nodes"
}

// leaseHint is what to check when the leader Lease cannot be read or written.
func (c *Controller) leaseHint(class string) string {
	ns := c.cfg.LeaseNamespace
	switch class {
	case classDenied:
		return fmt.Sprintf("the ServiceAccount needs get, create and update on leases.coordination.k8s.io in namespace %q (--leader-elect-namespace, default $POD_NAMESPACE)", ns)
	case classNotFound:
		return fmt.Sprintf("namespace %q does not exist: check --leader-elect-namespace (default $POD_NAMESPACE)", ns)
	case classUnreachable:
		return "the API server is unreachable: check --kubeconfig and that the API server is up"
	}
	return fmt.Sprintf("check --leader-elect-namespace (%q) and the ServiceAccount's RBAC on leases", ns)
}

// nodeWatchError is the node index's list and watch error handler: one
// line per change of what is wrong (a watch the server closed is no error).
func (c *Controller) nodeWatchError(err error) {
	if errors.Is(err, io.EOF) || errors.Is(err, io.ErrUnexpectedEOF) {
		return
	}
	c.failedRV.Store(c.inf.LastSyncResourceVersion())
	c.say.fail("apiserver", "listing or watching nodes failed; the node index is stale and retried", err, kubeHint)
}

// watchRecovery says when the node index lists or watches again after
// failing (its resource version moved), until ctx ends.
func (c *Controller) watchRecovery(ctx context.Context) {
	t := c.clock.NewTicker(time.Second)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C():
		}
		if c.say.failing("apiserver") {
			if rv, _ := c.failedRV.Load().(string); c.inf.LastSyncResourceVersion() != rv {
				c.say.ok("apiserver", "the API server answers again: the node index lists and watches nodes")
			}
		}
	}
}

// waitSynced waits for the node index's first sync until ctx ends; if it
// takes longer than syncWarn, it says so once, and again when it syncs.
func (c *Controller) waitSynced(ctx context.Context) bool {
	warn := c.clock.NewTimer(syncWarn)
	defer warn.Stop()
	warned := make(chan struct{})
	go func() {
		select {
		case <-warn.C():
			c.log.Warn("the node index has not synced yet; the controller neither leads nor drains until it has: check --kubeconfig, that the API server is up, and the ServiceAccount's list and watch on nodes",
				zap.Duration("waited", syncWarn))
			close(warned)
			c.probeAPI(ctx)
		case <-ctx.Done():
		}
	}()
	ok := cache.WaitForCacheSync(ctx.Done(), c.inf.HasSynced)
	warn.Stop()
	select {
	case <-warned:
		if ok {
			c.log.Info("the node index has synced")
		}
	default:
	}
	return ok
}

// probeAPI asks the API server its version (any client may) and says
// what is wrong if it does not answer: the node index's own list may be
// retrying too quietly to tell.
func (c *Controller) probeAPI(ctx context.Context) {
	pctx, cancel := context.WithTimeout(ctx, 5*time.Second)
	defer cancel()
	if _, err := c.kube.Discovery().RESTClient().Get().AbsPath("/version").Do(pctx).Raw(); err != nil && ctx.Err() == nil {
		c.failedRV.Store(c.inf.LastSyncResourceVersion())
		c.say.fail("apiserver", "the API server does not answer; the node index cannot sync", err, kubeHint)
	}
}

// syncWarn is how long the node index may take to sync before it is said.
const syncWarn = 10 * time.Second
