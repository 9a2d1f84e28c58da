package webhook

import (
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/testutil"
	"go.uber.org/zap"
	"go.uber.org/zap/zaptest/observer"

	"github.com/spot-handler/spot-handler/pkg/imds"
)

// receiver is the operator's endpoint: it records each POST and answers
// with status after holding the request for hold.
type receiver struct {
	*httptest.Server
	mu     sync.Mutex
	bodies []string
	types  []string
}

func newReceiver(t *testing.T, status int, hold time.Duration) *receiver {
	t.Helper()
	r := &receiver{}
	r.Server = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, req *http.Request) {
		b, _ := io.ReadAll(req.Body)
		r.mu.Lock()
		r.bodies = append(r.bodies, string(b))
		r.types = append(r.types, req.Header.Get("Content-Type"))
		r.mu.Unlock()
		select {
		case <-time.After(hold):
		case <-req.Context().Done():
		}
		w.WriteHeader(status)
	}))
	t.Cleanup(r.Close)
	return r
}

func (r *receiver) got() ([]string, []string) {
	r.mu.Lock()
	defer r.mu.Unlock()
	return append([]string(nil), r.bodies...), append([]string(nil), r.types...)
}

func newPosts() *prometheus.CounterVec {
	return prometheus.NewCounterVec(prometheus.CounterOpts{Name: "webhook_test_total", Help: "Test posts."}, []string{"outcome"})
}

var deadline = time.Date(2026, 12, 2, 1, 2, 3, 0, time.UTC)

// TestSend: what each template renders for each notification, and how
// each answer of the endpoint is counted.
func TestSend(t *testing.T) {
	drained := Data{Event: "drained", Node: "ip-10-0-0-7", Kind: "SpotInterruption", Action: "terminate", Deadline: deadline,
		Summary: "3 pods evicted; node empty 80s before its deadline", Empty: true,
		Identity: &imds.Identity{InstanceID: "i-0abc", InstanceType: "m5.large", AvailabilityZone: "us-east-1a"}}
	notice := Data{Event: "notice", Node: "ip-10-0-0-7", Kind: "RebalanceRecommendation", Deadline: deadline, Policy: "taint"}
	for _, tc := range []struct {
		name     string
		template string
		status   int
		data     Data
		want     string // the body's "text" (default template) or the whole body
		outcome  string
	}{
		{"default template, drained", "", 200, drained,
			"spot-handler: SpotInterruption on node ip-10-0-0-7 (drained, terminate): 3 pods evicted; node empty 80s before its deadline", OutcomeOK},
		{"default template, notice without action", "", 204, notice,
			"spot-handler: RebalanceRecommendation on node ip-10-0-0-7 (notice): must be empty by 2026-12-02T01:02:03Z", OutcomeOK},
		{"dry run", "", 200, DryRun(notice),
			"spot-handler: RebalanceRecommendation on node ip-10-0-0-7 (dry-run notice): must be empty by 2026-12-02T01:02:03Z", OutcomeOK},
		{"own template with identity", `{"node":{{ json .Node }},"instance":{{ json .Identity.InstanceID }},"empty":{{ .Empty }},"dry":{{ .DryRun }}}`, 200, drained,
			`{"node":"ip-10-0-0-7","instance":"i-0abc","empty":true,"dry":false}`, OutcomeOK},
		{"endpoint answers 500", "", 500, drained, "", OutcomeError},
		{"endpoint answers a redirect", "", 302, drained, "", OutcomeError},
	} {
		t.Run(tc.name, func(t *testing.T) {
			r := newReceiver(t, tc.status, 0)
			posts := newPosts()
			s, err := New(Config{URL: r.URL + "/hook", Template: tc.template, Posts: posts, Logger: zap.NewNop()})
			if err != nil {
				t.Fatal(err)
			}
			s.Send(tc.data)
			s.Wait()
			bodies, types := r.got()
			if len(bodies) != 1 || types[0] != "application/json" {
				t.Fatalf("posted %q (%v), want one application/json body", bodies, types)
			}
			if tc.want != "" {
				got := bodies[0]
				if tc.template == "" {
					var msg struct{ Text string }
					if err := json.Unmarshal([]byte(got), &msg); err != nil {
						t.Fatalf("default body %q is not {\"text\": ...}: %v", got, err)
					}
					got = msg.Text
				}
				if got != tc.want {
					t.Errorf("body %q, want %q", got, tc.want)
				}
			}
			if v := testutil.ToFloat64(posts.WithLabelValues(tc.outcome)); v != 1 {
				t.Errorf("posts{outcome=%s} = %v, want 1", tc.outcome, v)
			}
		})
	}
}

// TestSendNeverBlocks: an endpoint that hangs costs the caller nothing:
// Send returns at once, the post gives up at the client's timeout, is
// counted as an error and logged without the URL (it may hold a token).
func TestSendNeverBlocks(t *testing.T) {
	r := newReceiver(t, 200, time.Minute)
	posts := newPosts()
	core, logs := observer.New(zap.WarnLevel)
	s, err := New(Config{URL: r.URL + "/secret-token", Client: &http.Client{Timeout: 300 * time.Millisecond}, Posts: posts, Logger: zap.New(core)})
	if err != nil {
		t.Fatal(err)
	}
	start := time.Now()
	for range 5 {
		s.Send(Data{Event: "notice", Node: "n1", Kind: "SpotInterruption", Deadline: deadline})
	}
	if took := time.Since(start); took > 200*time.Millisecond {
		t.Errorf("5 sends to a hanging endpoint took %v: Send must not wait for the post", took)
	}
	s.Wait()
	if v := testutil.ToFloat64(posts.WithLabelValues(OutcomeError)); v != 5 {
		t.Errorf("posts{outcome=error} = %v, want 5", v)
	}
	for _, e := range logs.All() {
		line := e.Message
		for k, v := range e.ContextMap() {
			line += " " + k + "=" + strings.TrimSpace(strings.ReplaceAll(strings.ReplaceAll(toString(v), "\n", " "), "\t", " "))
		}
		if strings.Contains(line, "secret-token") || strings.Contains(line, r.URL) {
			t.Errorf("log line shows the URL: %s", line)
		}
	}
	if logs.FilterMessage("webhook failed").Len() != 5 {
		t.Errorf("%d 'webhook failed' lines, want 5", logs.FilterMessage("webhook failed").Len())
	}
}

func toString(v any) string {
	b, _ := json.Marshal(v)
	return string(b)
}

// TestNoURL: no URL, or no Sender, posts nothing and waits for nothing.
func TestNoURL(t *testing.T) {
	s, err := New(Config{})
	if err != nil {
		t.Fatal(err)
	}
	s.Send(Data{Event: "notice"})
	s.Wait()
	var none *Sender
	none.Send(Data{Event: "notice"})
	none.Wait()
}

// TestNewRejects: a bad template or URL fails at start-up, naming the
// flag and never showing the URL.
func TestNewRejects(t *testing.T) {
	for _, tc := range []struct {
		name string
		cfg  Config
		want string
	}{
		{"unparsable template", Config{Template: "{{ .Node "}, "--webhook-template:"},
		{"unknown field", Config{Template: "{{ .Nodes }}"}, "--webhook-template does not render"},
		{"unknown function", Config{Template: "{{ shout .Node }}"}, "--webhook-template:"},
		{"not http", Config{URL: "ftp://hooks.example/s3cr3t"}, "--webhook-url is not an http(s) URL"},
		{"no host", Config{URL: "https:///s3cr3t"}, "--webhook-url is not an http(s) URL"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, err := New(tc.cfg)
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("New: %v, want an error with %q", err, tc.want)
			}
			if strings.Contains(err.Error(), "s3cr3t") {
				t.Errorf("error shows the URL: %v", err)
			}
		})
	}
}
