package testenv

import (
	"context"
	"fmt"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"net/http"
	"net/http/httptest"
	"net/http/httputil"
	"net/url"
	"os"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/rest"
)

// Faults is a fault-injecting reverse proxy in front of a plane's
// kube-apiserver: the way tests reach a flaky API server. Clients built from
// Config (or a subprocess given Kubeconfig) talk to the plane through it;
// every request is logged, and Rules answer, hang, reset or delay the
// requests they match. Watches stream through (FlushInterval −1).
//
// Usage:
//
//	faults := plane.Faults(t)
//	// The pod LIST after the node PATCH answers 503 once.
//	faults.Add(testenv.Rule{
//		Match: testenv.Match{Method: "GET", Path: `^/api/v1/pods$`, Query: "spec.nodeName="},
//		After: &testenv.Match{Method: "PATCH", Path: `^/api/v1/nodes/`},
//		Times: 1, Status: 503,
//	})
//	client := faults.Client // or faults.Config, or faults.Kubeconfig
//	...
//	perPod := faults.Evictions() // eviction requests per pod UID
//
// The proxy serves TLS on 127.0.0.1 with its own certificate (in Config and
// Kubeconfig), because client-go sends no bearer token over plain http; it
// passes the client's Authorization header on, and adds the plane's admin
// token to requests that have none. When the apiserver cannot be reached
// (StopAPIServer) the proxy drops the client's connection, as a dying
// server does.
type Faults struct {
	// Config is an admin client config pointing at the proxy.
	Config *rest.Config
	// Client is a clientset built from Config.
	Client kubernetes.Interface
	// Kubeconfig is a kubeconfig file for Config, for subprocesses.
	Kubeconfig string
	// URL is the proxy's https URL.
	URL string

	srv    *httptest.Server
	proxy  *httputil.ReverseProxy
	target atomic.Pointer[url.URL]
	closed chan struct{}

	mu    sync.Mutex
	rules []*Fault
	log   []*Logged
}

// Faults starts a fault proxy in front of p's apiserver for tb and closes
// it in tb's cleanup (releasing every hung request first).
func (p *Plane) Faults(tb testing.TB) *Faults {
	tb.Helper()
	f, err := p.NewFaults()
	if err != nil {
		tb.Fatalf("starting the API fault proxy: %v", err)
	}
	tb.Cleanup(f.Close)
	return f
}

// NewFaults starts a fault proxy in front of p's apiserver; Close stops it.
func (p *Plane) NewFaults() (*Faults, error) {
	target, err := url.Parse(p.Config.Host)
	if err != nil {
		return nil, fmt.Errorf("parsing the apiserver URL %q: %w", p.Config.Host, err)
	}
	upCfg := rest.CopyConfig(p.Config)
	upCfg.RateLimiter, upCfg.QPS, upCfg.Burst = nil, -1, 0
	upstream, err := rest.TransportFor(upCfg)
	if err != nil {
		return nil, fmt.Errorf("building the proxy's transport to the apiserver: %w", err)
	}
	f := newFaults(target, upstream)
	f.srv.StartTLS()
	f.URL = f.srv.URL

	dir, err := os.MkdirTemp("", "spot-handler-faults-")
	if err != nil {
		f.srv.Close()
		return nil, fmt.Errorf("creating the fault proxy's folder: %w", err)
	}
	caFile := filepath.Join(dir, "proxy-ca.crt")
	if err := os.WriteFile(caFile, certPEM(f.srv.Certificate().Raw), 0o600); err != nil {
		f.srv.Close()
		return nil, fmt.Errorf("writing the fault proxy's certificate: %w", err)
	}
	f.Config = &rest.Config{Host: f.URL, BearerToken: p.Config.BearerToken,
		TLSClientConfig: rest.TLSClientConfig{CAFile: caFile}, QPS: p.Config.QPS, Burst: p.Config.Burst}
	if f.Kubeconfig, err = writeKubeconfig(dir, f.Config); err != nil {
		f.srv.Close()
		return nil, err
	}
	if f.Client, err = kubernetes.NewForConfig(f.Config); err != nil {
		f.srv.Close()
		return nil, fmt.Errorf("building the fault proxy's client: %w", err)
	}
	return f, nil
}

// Close releases every hung request and stops the proxy. It is safe to
// call more than once.
func (f *Faults) Close() {
	select {
	case <-f.closed:
		return
	default:
	}
	close(f.closed)
	f.srv.CloseClientConnections()
	f.srv.Close()
	if f.Kubeconfig != "" {
		os.RemoveAll(filepath.Dir(f.Kubeconfig))
	}
}

// Match selects requests. Empty fields match anything.
type Match struct {
	// Method is the HTTP method (GET, POST, PATCH, DELETE...).
	Method string
	// Path is a regular expression matched against the URL path, e.g.
	// `^/api/v1/namespaces/[^/]+/pods/[^/]+/eviction$`.
	Path string
	// Query is a substring of the decoded query string, e.g.
	// "fieldSelector=spec.nodeName=n1" or "watch=true".
	Query string
}

func (m Match) matches(method, path, query string) bool {
	if m.Method != "" && !strings.EqualFold(m.Method, method) {
		return false
	}
	if m.Query != "" && !strings.Contains(query, m.Query) {
		return false
	}
	if m.Path != "" {
		ok, err := regexp.MatchString(m.Path, path)
		return err == nil && ok
	}
	return true
}

// Rule says what to do with the requests it matches. Exactly one of Status,
// Hang, Reset, Delay or Cut should be set.
type Rule struct {
	Match
	// After, if set, arms the rule only once a request matching After has
	// passed through to the apiserver and been answered with 2xx.
	After *Match
	// Times is how many matching requests the rule acts on; 0 means all.
	Times int
	// Every, if above 1, makes the rule act on every Every-th matching
	// request only (10: a steady 10% of them).
	Every int
	// Status answers with this HTTP status and a metav1.Status body (with
	// Message, or a default). A 429 also carries Retry-After: RetryAfter
	// seconds (1 if 0).
	Status     int
	Message    string
	RetryAfter int
	// Causes, if set, go in the answer's details, as the apiserver's
	// admission plugins give them (e.g. a NamespaceTerminating cause).
	Causes []metav1.StatusCause
	// Hang holds the request until the client gives up or Release is
	// called; then (if the client is still there) it goes on to the
	// apiserver.
	Hang bool
	// Reset closes the client's connection without an answer (TCP RST).
	Reset bool
	// Delay holds the request this long, then passes it on.
	Delay time.Duration
	// Cut passes the request on and ends it after this long: a watch
	// closed early.
	Cut time.Duration
}

// Fault is a rule in place; see Faults.Add.
type Fault struct {
	rule     Rule
	f        *Faults
	armed    bool
	seen     int // matching requests while armed
	hits     int
	released chan struct{}
	once     sync.Once
}

// Add puts a rule in place, after the rules already there (the first rule
// that acts on a request wins).
func (f *Faults) Add(r Rule) *Fault {
	fl := &Fault{rule: r, f: f, armed: r.After == nil, released: make(chan struct{})}
	f.mu.Lock()
	f.rules = append(f.rules, fl)
	f.mu.Unlock()
	return fl
}

// Hits is how many requests the rule has acted on so far.
func (fl *Fault) Hits() int {
	fl.f.mu.Lock()
	defer fl.f.mu.Unlock()
	return fl.hits
}

// Armed reports whether the rule's After request has passed (always true
// without After).
func (fl *Fault) Armed() bool {
	fl.f.mu.Lock()
	defer fl.f.mu.Unlock()
	return fl.armed
}

// Release lets the requests a Hang rule holds go on to the apiserver, and
// removes the rule.
func (fl *Fault) Release() {
	fl.Remove()
	fl.once.Do(func() { close(fl.released) })
}

// Remove takes the rule out: later requests are not affected. Requests it
// holds stay held until Release.
func (fl *Fault) Remove() {
	fl.f.mu.Lock()
	defer fl.f.mu.Unlock()
	for i, r := range fl.f.rules {
		if r == fl {
			fl.f.rules = append(fl.f.rules[:i:i], fl.f.rules[i+1:]...)
			return
		}
	}
}

// pick returns the rule that acts on the request and counts the hit, or nil.
func (f *Faults) pick(method, path, query string) *Fault {
	f.mu.Lock()
	defer f.mu.Unlock()
	for _, r := range f.rules {
		if !r.armed || !r.rule.matches(method, path, query) || (r.rule.Times > 0 && r.hits >= r.rule.Times) {
			continue
		}
		r.seen++
		if r.rule.Every > 1 && r.seen%r.rule.Every != 0 {
			continue
		}
		r.hits++
		return r
	}
	return nil
}

// passed arms the rules waiting for a request like this one.
func (f *Faults) passed(method, path, query string, status int) {
	if status < 200 || status > 299 {
		return
	}
	f.mu.Lock()
	defer f.mu.Unlock()
	for _, r := range f.rules {
		if !r.armed && r.rule.After.matches(method, path, query) {
			r.armed = true
		}
	}
}

func (f *Faults) serve(w http.ResponseWriter, r *http.Request) {
	query, _ := url.QueryUnescape(r.URL.RawQuery)
	entry := f.record(r, query)
	rec := &statusRecorder{ResponseWriter: w, seen: func(code int) { f.setStatus(entry, code) }}
	defer func() { f.finish(entry, rec.status) }()
	if r.Header.Get("Authorization") == "" && f.Config != nil {
		r.Header.Set("Authorization", "Bearer "+f.Config.BearerToken)
	}
	fl := f.pick(r.Method, r.URL.Path, query)
	if fl != nil {
		f.setFault(entry, fl.rule.describe())
	}
	ctx := r.Context()
	switch {
	case fl == nil:
	case fl.rule.Status != 0:
		writeStatus(rec, fl.rule)
		return
	case fl.rule.Reset:
		resetConn(w)
		return
	case fl.rule.Hang:
		select {
		case <-ctx.Done():
			return
		case <-f.closed:
			return
		case <-fl.released:
		}
	case fl.rule.Delay > 0:
		select {
		case <-ctx.Done():
			return
		case <-f.closed:
			return
		case <-time.After(fl.rule.Delay):
		}
	case fl.rule.Cut > 0:
		cctx, cancel := context.WithTimeout(ctx, fl.rule.Cut)
		defer cancel()
		r = r.WithContext(cctx)
	}
	f.proxy.ServeHTTP(rec, r)
	f.passed(r.Method, r.URL.Path, query, rec.status)
}

func (r Rule) describe() string {
	switch {
	case r.Status != 0:
		return "status " + strconv.Itoa(r.Status)
	case r.Reset:
		return "reset"
	case r.Hang:
		return "hang"
	case r.Delay > 0:
		return "delay " + r.Delay.String()
	default:
		return "cut " + r.Cut.String()
	}
}
