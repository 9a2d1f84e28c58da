package imds

import (
	"context"
	"errors"
	"io"
	"net"
	"net/http"
	"strconv"
	"time"
)

// maxBodyBytes bounds every IMDS response body. The largest real answer (a
// maintenance events list) is a few KiB; a larger one is a fault, counted as
// a parse error, and is never read into memory.
const maxBodyBytes = 64 << 10

// errBodyTooLarge is returned by a response body that exceeds maxBodyBytes.
var errBodyTooLarge = errors.New("IMDS response body exceeds 64 KiB")

// trace records what the transport saw during one logical request, so the
// outcome can be told even when the SDK wraps the cause in an error that
// hides it (a failed token request, for one). Each HTTP exchange overwrites
// the previous one's status, so the trace describes the last exchange. The
// SDK makes the exchanges of one request one after another, on the calling
// goroutine.
type trace struct {
	status   int  // HTTP status of the last exchange; 0 if it got none
	token    bool // the last exchange was the token request (PUT /latest/api/token)
	sendErr  bool // the last exchange failed before a response
	timeout  bool // the last exchange failed with a network timeout
	tooLarge bool // a response body exceeded maxBodyBytes
	// retryAfter is the wait a 429 answer's Retry-After header asked for; 0
	// if the last exchange was no 429 or gave no valid hint.
	retryAfter time.Duration
}

// traceKey is the context key of a request's *trace.
type traceKey struct{}

// withTrace returns ctx carrying tr for the transport.
func withTrace(ctx context.Context, tr *trace) context.Context {
	return context.WithValue(ctx, traceKey{}, tr)
}

// record notes the outcome of one HTTP exchange.
func (t *trace) record(req *http.Request, resp *http.Response, err error) {
	t.token = req.Method == http.MethodPut
	t.status, t.sendErr, t.timeout, t.retryAfter = 0, false, false, 0
	if err != nil {
		t.sendErr = true
		t.timeout = isTimeout(err)
		return
	}
	t.status = resp.StatusCode
	if t.status == http.StatusTooManyRequests {
		t.retryAfter = parseRetryAfter(resp.Header.Get("Retry-After"), time.Now())
	}
}

// parseRetryAfter reads a Retry-After value (RFC 9110: seconds, or an HTTP
// date) as a wait from now; a missing, malformed or past value is 0.
func parseRetryAfter(v string, now time.Time) time.Duration {
	if v == "" {
		return 0
	}
	if s, err := strconv.Atoi(v); err == nil {
		return time.Duration(max(s, 0)) * time.Second
	}
	if t, err := http.ParseTime(v); err == nil && t.After(now) {
		return t.Sub(now)
	}
	return 0
}

// boundedClient is the HTTP client handed to the SDK. It records each
// exchange in the request's trace and bounds each response body.
type boundedClient struct {
	inner *http.Client
}

// Do sends req and wraps the response body in a bounded reader.
func (c *boundedClient) Do(req *http.Request) (*http.Response, error) {
	tr, _ := req.Context().Value(traceKey{}).(*trace)
	resp, err := c.inner.Do(req)
	if tr != nil {
		tr.record(req, resp, err)
	}
	if err != nil {
		return resp, err
	}
	resp.Body = &boundedBody{rc: resp.Body, left: maxBodyBytes, tr: tr}
	return resp, nil
}

// boundedBody reads at most left bytes from rc, then fails with
// errBodyTooLarge instead of reading on.
type boundedBody struct {
	rc   io.ReadCloser
	left int64
	tr   *trace
	err  error
}

// Read reads from the body, failing once more than maxBodyBytes were sent.
func (b *boundedBody) Read(p []byte) (int, error) {
	if b.err != nil {
		return 0, b.err
	}
	if int64(len(p)) > b.left+1 {
		p = p[:b.left+1]
	}
	n, err := b.rc.Read(p)
	if int64(n) <= b.left {
		b.left -= int64(n)
		return n, err
	}
	n = int(b.left)
	b.left = 0
	b.err = errBodyTooLarge
	if b.tr != nil {
		b.tr.tooLarge = true
	}
	return n, b.err
}

// Close closes the underlying body. An unread remainder is not drained: the
// connection is dropped rather than reading a huge body to reuse it.
func (b *boundedBody) Close() error {
	return b.rc.Close()
}

// newHTTPClient builds the transport for IMDS: no proxy (IMDS is link-local
// and must never go through HTTP_PROXY), dial and response-header timeouts
// of the per-request timeout, and a small idle pool since one host is
// polled.
func newHTTPClient(requestTimeout time.Duration) *boundedClient {
	dialer := &net.Dialer{Timeout: requestTimeout, KeepAlive: 30 * time.Second}
	tr := &http.Transport{
		Proxy:                  nil,
		DialContext:            dialer.DialContext,
		MaxIdleConns:           4,
		MaxIdleConnsPerHost:    4,
		IdleConnTimeout:        90 * time.Second,
		ResponseHeaderTimeout:  requestTimeout,
		MaxResponseHeaderBytes: maxBodyBytes,
	}
	return &boundedClient{inner: &http.Client{Transport: tr}}
}
