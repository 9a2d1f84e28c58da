package imds

import (
	"context"
	"fmt"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"go.uber.org/zap"
	"go.uber.org/zap/zaptest/observer"
	testingclock "k8s.io/utils/clock/testing"
)

// epoch is the fake clock's start.
var epoch = time.Date(2030, 1, 2, 3, 4, 5, 0, time.UTC)

// fakeIMDS is an IMDSv2-only metadata server on 127.0.0.1 whose answers a
// test sets per path. Unset paths answer 404 with an HTML body, as IMDS does.
type fakeIMDS struct {
	srv *httptest.Server

	mu            sync.Mutex
	tokens        map[string]bool
	issued        int
	routes        map[string]http.HandlerFunc
	tokenHandler  http.HandlerFunc
	hits          map[string]int
	unauthorized  int
	tokenRequests int
}

// newFakeIMDS starts a fake IMDS for the test.
func newFakeIMDS(tb testing.TB) *fakeIMDS {
	tb.Helper()
	f := &fakeIMDS{tokens: map[string]bool{}, routes: map[string]http.HandlerFunc{}, hits: map[string]int{}}
	f.srv = httptest.NewServer(http.HandlerFunc(f.serve))
	tb.Cleanup(f.srv.Close)
	return f
}

// URL returns the endpoint to configure.
func (f *fakeIMDS) URL() string { return f.srv.URL }

func (f *fakeIMDS) serve(w http.ResponseWriter, r *http.Request) {
	path := strings.TrimPrefix(r.URL.Path, "/latest/")
	f.mu.Lock()
	f.hits[path]++
	if path == "api/token" && r.Method == http.MethodPut {
		f.tokenRequests++
		h := f.tokenHandler
		if h == nil {
			h = f.issueToken
		}
		f.mu.Unlock()
		h(w, r)
		return
	}
	ok := f.tokens[r.Header.Get("X-Aws-Ec2-Metadata-Token")]
	h := f.routes[path]
	if !ok {
		f.unauthorized++
	}
	f.mu.Unlock()
	switch {
	case !ok:
		http.Error(w, "<html>401 - Unauthorized</html>", http.StatusUnauthorized)
	case h == nil:
		http.Error(w, "<html>404 - Not Found</html>", http.StatusNotFound)
	default:
		h(w, r)
	}
}

// issueToken answers a token request as IMDS does.
func (f *fakeIMDS) issueToken(w http.ResponseWriter, r *http.Request) {
	if r.Header.Get("X-Aws-Ec2-Metadata-Token-Ttl-Seconds") == "" {
		http.Error(w, "missing TTL", http.StatusBadRequest)
		return
	}
	f.mu.Lock()
	f.issued++
	tok := fmt.Sprintf("token-%d", f.issued)
	f.tokens[tok] = true
	f.mu.Unlock()
	w.Header().Set("X-Aws-Ec2-Metadata-Token-Ttl-Seconds", r.Header.Get("X-Aws-Ec2-Metadata-Token-Ttl-Seconds"))
	fmt.Fprint(w, tok)
}

// set routes path (e.g. "meta-data/spot/instance-action") to h; nil removes it.
func (f *fakeIMDS) set(path string, h http.HandlerFunc) {
	f.mu.Lock()
	defer f.mu.Unlock()
	if h == nil {
		delete(f.routes, path)
		return
	}
	f.routes[path] = h
}

// setBody makes path answer status with body.
func (f *fakeIMDS) setBody(path string, status int, body string) {
	f.set(path, func(w http.ResponseWriter, r *http.Request) {
		w.WriteHeader(status)
		fmt.Fprint(w, body)
	})
}

// setToken overrides the token endpoint; nil restores normal tokens.
func (f *fakeIMDS) setToken(h http.HandlerFunc) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.tokenHandler = h
}

// expireTokens makes every token issued so far answer 401.
func (f *fakeIMDS) expireTokens() {
	f.mu.Lock()
	defer f.mu.Unlock()
	clear(f.tokens)
}

// counts returns the token requests and the 401 answers so far.
func (f *fakeIMDS) counts() (tokenRequests, unauthorized int) {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.tokenRequests, f.unauthorized
}

// request is one observed IMDS request.
type request struct {
	path, outcome string
	at            time.Time
}

// recorder is an Observer that keeps every call.
type recorder struct {
	mu   sync.Mutex
	reqs []request
}

// ObserveRequest records a request.
func (r *recorder) ObserveRequest(path, outcome string, at time.Time) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.reqs = append(r.reqs, request{path, outcome, at})
}

// take returns and forgets the requests recorded so far.
func (r *recorder) take() []request {
	r.mu.Lock()
	defer r.mu.Unlock()
	out := r.reqs
	r.reqs = nil
	return out
}

// outcomes returns the outcomes recorded for path, and forgets all records.
func (r *recorder) outcomes(path string) []string {
	var out []string
	for _, q := range r.take() {
		if q.path == path {
			out = append(out, q.outcome)
		}
	}
	return out
}

// harness runs a Watcher on a fake clock. Each poll cycle makes real HTTP
// requests; the clock only decides when the next cycle starts.
type harness struct {
	t      *testing.T
	clock  *testingclock.FakeClock
	client *Client
	w      *Watcher
	out    chan Notice
	obs    *recorder
	logs   *observer.ObservedLogs
	done   chan error
	cancel context.CancelFunc
}

// startWatcher starts a watcher against endpoint with PollInterval 1s and
// MaxBackoff 10s; mod may change the config. It waits for the first cycle.
func startWatcher(t *testing.T, endpoint string, mod func(*Config)) *harness {
	t.Helper()
	core, logs := observer.New(zap.DebugLevel)
	h := &harness{
		t:     t,
		clock: testingclock.NewFakeClock(epoch),
		out:   make(chan Notice, 64),
		obs:   &recorder{},
		logs:  logs,
		done:  make(chan error, 1),
	}
	cfg := Config{
		Endpoint:       endpoint,
		PollInterval:   time.Second,
		RequestTimeout: 2 * time.Second,
		MaxBackoff:     10 * time.Second,
		Clock:          h.clock,
		Logger:         zap.New(core),
		Observer:       h.obs,
	}
	if mod != nil {
		mod(&cfg)
	}
	c, err := NewClient(cfg)
	if err != nil {
		t.Fatalf("NewClient: %v", err)
	}
	h.client = c
	h.w = NewWatcher(c)
	ctx, cancel := context.WithCancel(context.Background())
	h.cancel = cancel
	go func() { h.done <- h.w.Run(ctx, h.out) }()
	t.Cleanup(h.stop)
	h.waitCycles(1)
	return h
}

// stop cancels Run and checks it returned context.Canceled.
func (h *harness) stop() {
	if h.cancel == nil {
		return
	}
	h.cancel()
	h.cancel = nil
	select {
	case err := <-h.done:
		if err != context.Canceled {
			h.t.Errorf("Run returned %v, want context.Canceled", err)
		}
	case <-time.After(30 * time.Second):
		h.t.Errorf("Run did not return after cancel")
	}
}

// waitCycles waits until n cycles completed, every read they started was
// applied, and the watcher waits on the clock. The real-time limit only
// turns a hang into a failure.
func (h *harness) waitCycles(n int64) {
	h.t.Helper()
	limit := time.Now().Add(30 * time.Second)
	for h.w.cycles.Load() < n || h.w.unapplied.Load() != 0 || !h.clock.HasWaiters() {
		select {
		case err := <-h.done:
			h.t.Fatalf("Run returned early: %v", err)
		default:
		}
		if time.Now().After(limit) {
			h.t.Fatalf("watcher did not complete cycle %d (at %d)", n, h.w.cycles.Load())
		}
		time.Sleep(time.Millisecond)
	}
}

// cycles returns the completed cycles.
func (h *harness) cycles() int64 { return h.w.cycles.Load() }

// step advances the clock by d. If that ends the watcher's wait, it waits
// for the next cycle and returns true; otherwise it checks that no cycle
// started and returns false.
func (h *harness) step(d time.Duration) bool {
	h.t.Helper()
	before := h.cycles()
	h.clock.Step(d)
	// Read waiters before cycles: a waiter seen while the cycle count is
	// unchanged can only be the wait that Step did not end.
	if h.clock.HasWaiters() && h.cycles() == before {
		return false
	}
	h.waitCycles(before + 1)
	return true
}

// next advances to the next cycle whatever the wait, and waits for it.
func (h *harness) next() {
	h.t.Helper()
	if !h.step(h.client.cfg.MaxBackoff) {
		h.t.Fatalf("no cycle after waiting MaxBackoff")
	}
}

// drain returns the notices delivered so far.
func (h *harness) drain() []Notice {
	var ns []Notice
	for {
		select {
		case n := <-h.out:
			ns = append(ns, n)
		default:
			return ns
		}
	}
}

// ofKind returns the notices of kind k.
func ofKind(ns []Notice, k Kind) []Notice {
	var out []Notice
	for _, n := range ns {
		if n.Kind == k {
			out = append(out, n)
		}
	}
	return out
}

// spotBody returns an instance-action body.
func spotBody(action string, t time.Time) string {
	return fmt.Sprintf(`{"action": %q, "time": %q}`, action, t.UTC().Format(time.RFC3339))
}
