package main

import (
	"flag"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"testing"

	"github.com/spot-handler/spot-handler/internal/webhook"
)

// TestWebhookFlagsReachThePost: --webhook-header (flag and variable),
// --webhook-header-file and --webhook-proxy make the client the agent and
// controller post with. The proxy is an httptest server (the operator's
// proxy is a peer we do not have); it sees the webhook's URL and headers.
func TestWebhookFlagsReachThePost(t *testing.T) {
	got := make(chan *http.Request, 1)
	proxy := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		_, _ = io.Copy(io.Discard, r.Body)
		got <- r
	}))
	defer proxy.Close()
	file := filepath.Join(t.TempDir(), "headers")
	if err := os.WriteFile(file, []byte("# from a Secret\nAuthorization: Bearer s3cret\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	var f agentFlags
	env := map[string]string{"SPOT_HANDLER_WEBHOOK_HEADER": "X-Env: e"}
	args := []string{"--webhook-header", "X-Team: sre", "--webhook-header-file", file, "--webhook-proxy", proxy.URL}
	err := parseModeFlags("agent", agentHelp, func(fs *flag.FlagSet) { f.register(fs, func(string) string { return "" }) }, args,
		stdio{out: io.Discard, err: io.Discard, getenv: func(k string) string { return env[k] }})
	if err != nil {
		t.Fatal(err)
	}
	client, err := f.webhookClient()
	if err != nil {
		t.Fatal(err)
	}
	s, err := webhook.New(webhook.Config{URL: "http://hooks.example.invalid/x", Client: client})
	if err != nil {
		t.Fatal(err)
	}
	s.Send(webhook.Data{Event: "notice", Node: "n1", Kind: "SpotInterruption"})
	s.Wait()
	r := <-got
	if r.URL.String() != "http://hooks.example.invalid/x" {
		t.Errorf("proxy asked for %s", r.URL)
	}
	// The flag wins over the variable: X-Env is not sent.
	for k, want := range map[string]string{"X-Team": "sre", "Authorization": "Bearer s3cret", "X-Env": ""} {
		if v := r.Header.Get(k); v != want {
			t.Errorf("%s = %q, want %q", k, v, want)
		}
	}
}
