package agent

import (
	"context"
	"io"
	"net/http"
	"time"

	"k8s.io/client-go/rest"
)

// BoundCalls makes every request of clients built from cfg end after
// timeout, except watches, which stream for as long as they are wanted.
// (rest.Config.Timeout cannot do this: it is the HTTP client's timeout and
// would cut every watch.) A request held by a blackholed API server then
// fails in time to be retried, instead of waiting for TCP to give up.
func BoundCalls(cfg *rest.Config, timeout time.Duration) {
	if timeout <= 0 {
		return
	}
	cfg.Wrap(func(rt http.RoundTripper) http.RoundTripper { return &boundedTransport{next: rt, timeout: timeout} })
}

// boundedTransport gives each non-watch request a deadline.
type boundedTransport struct {
	next    http.RoundTripper
	timeout time.Duration
}

// RoundTrip sends r with a deadline unless it is a watch; the deadline
// covers reading the body, and ends when the body is closed.
func (t *boundedTransport) RoundTrip(r *http.Request) (*http.Response, error) {
	if q := r.URL.Query().Get("watch"); q == "true" || q == "1" {
		return t.next.RoundTrip(r)
	}
	ctx, cancel := context.WithTimeout(r.Context(), t.timeout)
	resp, err := t.next.RoundTrip(r.WithContext(ctx))
	if err != nil {
		cancel()
		return nil, err
	}
	resp.Body = &cancelOnClose{ReadCloser: resp.Body, cancel: cancel}
	return resp, nil
}

// cancelOnClose releases a request's deadline when its body is closed.
type cancelOnClose struct {
	io.ReadCloser
	cancel context.CancelFunc
}

// Close closes the body and releases the deadline.
func (c *cancelOnClose) Close() error {
	err := c.ReadCloser.Close()
	c.cancel()
	return err
}
