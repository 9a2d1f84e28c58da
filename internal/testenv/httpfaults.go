package testenv

import (
	"fmt"
	"io"
	"log"
	"net/http"
	"net/http/httptest"
	"net/http/httputil"
	"net/url"
)

// newFaults makes an unstarted fault proxy in front of target whose
// requests go upstream through transport.
func newFaults(target *url.URL, transport http.RoundTripper) *Faults {
	f := &Faults{closed: make(chan struct{})}
	f.target.Store(target)
	f.proxy = &httputil.ReverseProxy{
		Rewrite: func(r *httputil.ProxyRequest) {
			t := f.target.Load()
			r.SetURL(t)
			r.Out.Host = t.Host
		},
		Transport:     transport,
		FlushInterval: -1,
		ErrorLog:      log.New(io.Discard, "", 0),
		ErrorHandler: func(w http.ResponseWriter, r *http.Request, err error) {
			// The upstream is gone or the client left: drop the connection.
			panic(http.ErrAbortHandler)
		},
	}
	f.srv = httptest.NewUnstartedServer(http.HandlerFunc(f.serve))
	f.srv.Config.ErrorLog = log.New(io.Discard, "", 0)
	return f
}

// NewHTTPFaults starts a fault proxy on plain http, 127.0.0.1, in front of
// target, a peer that is not the API server (AEMM, the instance metadata
// simulator): the same Rules, log and Release as the API server's proxy,
// for faults the peer cannot produce itself (IMDS answering 503, hanging,
// resetting). Config, Client and Kubeconfig stay empty; Close stops it.
func NewHTTPFaults(target string) (*Faults, error) {
	u, err := url.Parse(target)
	if err != nil || u.Scheme == "" || u.Host == "" {
		return nil, fmt.Errorf("fault proxy target %q is not an absolute URL (%v)", target, err)
	}
	f := newFaults(u, http.DefaultTransport.(*http.Transport).Clone())
	f.srv.Start()
	f.URL = f.srv.URL
	return f, nil
}

// SetTarget sends later requests to another upstream (one AEMM, then
// another that serves a notice): what a client sees when the instance's
// metadata changes under it.
func (f *Faults) SetTarget(target string) error {
	u, err := url.Parse(target)
	if err != nil || u.Scheme == "" || u.Host == "" {
		return fmt.Errorf("fault proxy target %q is not an absolute URL (%v)", target, err)
	}
	f.target.Store(u)
	return nil
}

// ClearLog forgets the requests logged so far (a long-lived proxy's log
// would otherwise grow with every request).
func (f *Faults) ClearLog() {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.log = nil
}
