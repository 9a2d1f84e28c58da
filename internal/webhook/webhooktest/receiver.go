// Package webhooktest is a webhook endpoint for tests: an httptest server
// on 127.0.0.1 that records the bodies posted to it and answers 200.
package webhooktest

import (
	"io"
	"net/http"
	"net/http/httptest"
	"sync"
	"testing"
)

// Receiver records each body posted to it, in arrival order.
type Receiver struct {
	// URL is where to post.
	URL string

	srv    *httptest.Server
	mu     sync.Mutex
	bodies []string
}

// New starts a Receiver, closed when tb ends.
func New(tb testing.TB) *Receiver {
	r := &Receiver{}
	r.srv = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, req *http.Request) {
		b, _ := io.ReadAll(req.Body)
		r.mu.Lock()
		r.bodies = append(r.bodies, string(b))
		r.mu.Unlock()
	}))
	r.URL = r.srv.URL
	tb.Cleanup(r.srv.Close)
	return r
}

// Bodies returns a copy of the bodies received so far.
func (r *Receiver) Bodies() []string {
	r.mu.Lock()
	defer r.mu.Unlock()
	return append([]string(nil), r.bodies...)
}

// Reset forgets the bodies received so far.
func (r *Receiver) Reset() {
	r.mu.Lock()
	r.bodies = nil
	r.mu.Unlock()
}
