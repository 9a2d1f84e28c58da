package webhook

import (
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"
)

func TestParseHeaders(t *testing.T) {
	tests := []struct {
		name, in string
		want     http.Header
		err      string
	}{
		{name: "one", in: "Authorization: Bearer abc", want: http.Header{"Authorization": {"Bearer abc"}}},
		{name: "lines, blanks and comments", in: "X-Team: sre\n\n# the token\nx-api-key:  k1 \r\n",
			want: http.Header{"X-Team": {"sre"}, "X-Api-Key": {"k1"}}},
		{name: "repeated name", in: "X-A: 1\nX-A: 2", want: http.Header{"X-A": {"1", "2"}}},
		{name: "no colon", in: "X-Team: sre\nAuthorization Bearer sk-live-TOPSECRET", err: `line 2 is not "Name: value"`},
		{name: "bad name", in: "X-Api-Key=TOPSECRET x: 1", err: `line 1: the header name is not valid`},
		{name: "empty name", in: ": 1", err: `line 1: the header name is not valid`},
		{name: "set by the client", in: "Content-Length: 3", err: "Content-Length is set by the client"},
		{name: "host", in: "Host: x", err: "Host is set by the client"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			h, err := ParseHeaders(tt.in)
			if tt.err != "" {
				if err == nil || !strings.Contains(err.Error(), tt.err) {
					t.Fatalf("err = %v, want %q", err, tt.err)
				}
				if strings.Contains(err.Error(), "SECRET") {
					t.Errorf("the error %q prints the secret", err)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if len(h) != len(tt.want) {
				t.Fatalf("got %v, want %v", h, tt.want)
			}
			for k, v := range tt.want {
				if strings.Join(h.Values(k), "|") != strings.Join(v, "|") {
					t.Errorf("%s = %q, want %q", k, h.Values(k), v)
				}
			}
		})
	}
}

// TestHeadersFlag: --webhook-header repeats, and one value (an environment
// variable) may hold several lines; String never shows the values.
func TestHeadersFlag(t *testing.T) {
	var h Headers
	for _, s := range []string{"Authorization: Bearer secret", "X-A: 1\nX-B: 2"} {
		if err := h.Set(s); err != nil {
			t.Fatal(err)
		}
	}
	if got := h.Header().Get("X-B"); got != "2" {
		t.Errorf("X-B = %q", got)
	}
	if s := h.String(); strings.Contains(s, "secret") || !strings.Contains(s, "Authorization") {
		t.Errorf("String() = %q: want the names, never the values", s)
	}
	if err := h.Set("nonsense"); err == nil {
		t.Error("Set(nonsense) accepted")
	}
}

// headerSeen is a webhook receiver (httptest: the operator's endpoint is a
// peer we do not have) that records each request's headers and target.
type headerSeen struct {
	mu      sync.Mutex
	headers []http.Header
	targets []string
	bodies  []string
}

func (s *headerSeen) handler() http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		b, _ := io.ReadAll(r.Body)
		s.mu.Lock()
		s.headers = append(s.headers, r.Header.Clone())
		s.targets = append(s.targets, r.URL.String())
		s.bodies = append(s.bodies, string(b))
		s.mu.Unlock()
	})
}

func (s *headerSeen) wait(t *testing.T) (http.Header, string, string) {
	t.Helper()
	for end := time.Now().Add(10 * time.Second); time.Now().Before(end); time.Sleep(10 * time.Millisecond) {
		s.mu.Lock()
		if len(s.headers) > 0 {
			defer s.mu.Unlock()
			return s.headers[0], s.targets[0], s.bodies[0]
		}
		s.mu.Unlock()
	}
	t.Fatal("no request arrived")
	return nil, "", ""
}

func TestSendWithHeaders(t *testing.T) {
	seen := &headerSeen{}
	srv := httptest.NewServer(seen.handler())
	defer srv.Close()
	h, err := ParseHeaders("Authorization: Bearer t0k\nX-Source: spot-handler\nContent-Type: application/vnd.x+json")
	if err != nil {
		t.Fatal(err)
	}
	client, err := NewClient(h, "")
	if err != nil {
		t.Fatal(err)
	}
	s, err := New(Config{URL: srv.URL + "/hook", Client: client})
	if err != nil {
		t.Fatal(err)
	}
	s.Send(Data{Event: "notice", Node: "n1", Kind: "SpotInterruption", Deadline: deadline})
	s.Wait()
	got, _, body := seen.wait(t)
	for k, v := range map[string]string{"Authorization": "Bearer t0k", "X-Source": "spot-handler", "Content-Type": "application/vnd.x+json"} {
		if got.Get(k) != v {
			t.Errorf("%s = %q, want %q", k, got.Get(k), v)
		}
	}
	if !strings.Contains(body, "n1") {
		t.Errorf("body %q", body)
	}
}

// TestSendThroughProxy: with a proxy URL the POST goes to the proxy, which
// sees the webhook's absolute URL, the headers and the body.
func TestSendThroughProxy(t *testing.T) {
	seen := &headerSeen{}
	proxy := httptest.NewServer(seen.handler())
	defer proxy.Close()
	client, err := NewClient(http.Header{"X-Token": {"p"}}, proxy.URL)
	if err != nil {
		t.Fatal(err)
	}
	s, err := New(Config{URL: "http://hooks.example.invalid/services/x", Client: client})
	if err != nil {
		t.Fatal(err)
	}
	s.Send(Data{Event: "notice", Node: "n2", Kind: "SpotInterruption", Deadline: deadline})
	s.Wait()
	h, target, body := seen.wait(t)
	if target != "http://hooks.example.invalid/services/x" || h.Get("X-Token") != "p" || !strings.Contains(body, "n2") {
		t.Errorf("proxy saw %s, X-Token %q, body %q", target, h.Get("X-Token"), body)
	}
}

func TestNewClientProxy(t *testing.T) {
	for _, p := range []string{"proxy:3128", "ftp://proxy", "http://"} {
		if _, err := NewClient(nil, p); err == nil || !strings.Contains(err.Error(), "--webhook-proxy") {
			t.Errorf("NewClient(proxy %q): err = %v, want one naming --webhook-proxy", p, err)
		}
	}
}

// TestHeadersNotSentToAnotherHostOnRedirect: the client adds the
// operator's headers to every request it makes, so it must not follow a
// redirect to another host, where net/http alone would have dropped an
// Authorization header; a redirect on the same host is followed.
func TestHeadersNotSentToAnotherHostOnRedirect(t *testing.T) {
	var mu sync.Mutex
	var seen []string
	other := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		mu.Lock()
		seen = append(seen, r.Header.Get("Authorization"))
		mu.Unlock()
	}))
	defer other.Close()
	first := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path == "/moved" {
			http.Redirect(w, r, "/here", http.StatusTemporaryRedirect)
			return
		}
		if r.URL.Path == "/here" {
			return
		}
		http.Redirect(w, r, strings.Replace(other.URL, "127.0.0.1", "localhost", 1)+"/x", http.StatusTemporaryRedirect)
	}))
	defer first.Close()
	h, _ := ParseHeaders("Authorization: Bearer s3cr3t")
	c, err := NewClient(h, "")
	if err != nil {
		t.Fatal(err)
	}
	if resp, err := c.Post(first.URL+"/away", "application/json", strings.NewReader("{}")); err == nil {
		resp.Body.Close()
	}
	mu.Lock()
	defer mu.Unlock()
	for _, a := range seen {
		if a != "" {
			t.Errorf("the other host received Authorization %q", a)
		}
	}
	resp, err := c.Post(first.URL+"/moved", "application/json", strings.NewReader("{}"))
	if err != nil {
		t.Fatalf("a redirect on the same host was not followed: %v", err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		t.Errorf("same-host redirect: %s", resp.Status)
	}
}
