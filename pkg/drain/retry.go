package drain

import (
	"context"
	"errors"
	"fmt"
	"io"
	"math/rand/v2"
	"net"
	"syscall"
	"time"

	apierrors "k8s.io/apimachinery/pkg/api/errors"
	utilnet "k8s.io/apimachinery/pkg/util/net"
	"k8s.io/utils/clock"
)

// Backoff between attempts of one request that failed for a passing
// reason, and between refused evictions of one pod.
const (
	firstRetry = 200 * time.Millisecond
	maxRetry   = 2 * time.Second
)

// backoff is a jittered exponential schedule: each wait is drawn from
// [d/2, d], and d doubles from firstRetry up to maxRetry.
type backoff struct {
	d      time.Duration
	jitter func() float64 // in [0, 1); nil means math/rand
}

// next returns the wait before the next attempt, at least hint (the API's
// Retry-After), and moves the schedule on.
func (b *backoff) next(hint time.Duration) time.Duration {
	if b.d == 0 {
		b.d = firstRetry
	}
	j := rand.Float64
	if b.jitter != nil {
		j = b.jitter
	}
	w := b.d/2 + time.Duration(j()*float64(b.d/2))
	b.d = min(b.d*2, maxRetry)
	return max(w, hint)
}

// transient reports whether err is worth retrying as is: the API server
// (or the way to it) failed for a passing reason, or API priority and
// fairness throttled us. A 429 from a PodDisruptionBudget is not transient
// (see answerOf): the budget decides, not the server.
func transient(err error) bool {
	if err == nil {
		return false
	}
	if _, isPDB := pdbCause(err); isPDB {
		return false
	}
	var se apierrors.APIStatus
	if errors.As(err, &se) {
		code := se.Status().Code
		switch {
		case isMultiPDB(err):
			return false
		case code == 429, code == 408, code == 504, code >= 500:
			return true
		case apierrors.IsServerTimeout(err), apierrors.IsTimeout(err), apierrors.IsTooManyRequests(err),
			apierrors.IsServiceUnavailable(err), apierrors.IsInternalError(err):
			return true
		}
		return false
	}
	// Not an API answer: the connection failed or the request timed out.
	return errors.Is(err, io.EOF) || errors.Is(err, io.ErrUnexpectedEOF) || errors.Is(err, syscall.ECONNREFUSED) ||
		errors.Is(err, syscall.ECONNRESET) || errors.Is(err, context.DeadlineExceeded) ||
		utilnet.IsConnectionReset(err) || utilnet.IsConnectionRefused(err) || utilnet.IsProbableEOF(err) ||
		isNetError(err)
}

func isNetError(err error) bool {
	var ne net.Error
	return errors.As(err, &ne)
}

// retryAfter is the wait the API asked for (Retry-After), or 0.
func retryAfter(err error) time.Duration {
	if s, ok := apierrors.SuggestsClientDelay(err); ok && s > 0 {
		return time.Duration(s) * time.Second
	}
	return 0
}

// retryTransient calls op until it succeeds, fails for a lasting reason, or ctx
// ends, waiting on clk between transient failures. It returns nil, the
// lasting error, or the last transient error joined with ctx's cause.
func retryTransient(ctx context.Context, clk clock.Clock, op func(context.Context) error) error {
	var b backoff
	for {
		err := op(ctx)
		if err == nil || !transient(err) {
			return err
		}
		if ctx.Err() != nil {
			return fmt.Errorf("%w (gave up: %w)", err, context.Cause(ctx))
		}
		if !sleep(ctx, clk, b.next(retryAfter(err))) {
			return fmt.Errorf("%w (gave up: %w)", err, context.Cause(ctx))
		}
	}
}

// sleep waits d on clk; false if ctx ended first.
func sleep(ctx context.Context, clk clock.Clock, d time.Duration) bool {
	t := clk.NewTimer(d)
	defer t.Stop()
	select {
	case <-ctx.Done():
		return false
	case <-t.C():
		return true
	}
}
