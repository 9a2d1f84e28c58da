package main

import (
	"flag"
	"io"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// checkedMode parses args for the agent or the controller and runs its
// start-up checks, as run does before it builds anything; it returns the
// webhook URL the mode would use, the warnings it would log, and the
// refusal, if any.
func checkedMode(t *testing.T, mode string, args ...string) (webhookURL string, warnings []string, err error) {
	t.Helper()
	std := stdio{out: io.Discard, err: io.Discard, getenv: func(string) string { return "" }}
	switch mode {
	case "agent":
		var f agentFlags
		if err := parseModeFlags(mode, agentHelp, func(fs *flag.FlagSet) { f.register(fs, std.getenv) }, args, std); err != nil {
			t.Fatal(err)
		}
		cfg, _, err := f.checked(std.getenv)
		return cfg.WebhookURL, f.warnings, err
	default:
		var f controllerFlags
		if err := parseModeFlags(mode, controllerHelp, func(fs *flag.FlagSet) { f.register(fs, std.getenv) }, args, std); err != nil {
			t.Fatal(err)
		}
		cfg, _, err := f.checked(std.getenv)
		return cfg.WebhookURL, f.warnings, err
	}
}

// TestStartWarningsCarryOn: a setting that touches only a side channel
// (the webhook) or does nothing in this mode must not stop the process: an
// agent or controller refused at start drains no node at all. The process
// starts, says what is wrong (the warning) and, where the webhook cannot
// work, turns it off rather than post without its headers. Values that
// are valid but rarer (another partition's region, a simulator's or
// LocalStack's queue URL, no client-side rate limit) start too.
func TestStartWarningsCarryOn(t *testing.T) {
	dir := t.TempDir()
	empty, bad, hook := filepath.Join(dir, "empty"), filepath.Join(dir, "bad"), filepath.Join(dir, "hook")
	for f, text := range map[string]string{empty: "\n", bad: "X-Ok: 1\nX-Api-Key=TOPSECRET-abc\n", hook: "https://hooks.example/x\n"} {
		if err := os.WriteFile(f, []byte(text), 0o600); err != nil {
			t.Fatal(err)
		}
	}
	agent := []string{"--node-name", "n1"}
	ctl := func(queue string, more ...string) []string {
		return append([]string{"--cluster-name", "c", "--queue-url", queue, "--leader-elect-namespace", "kube-system"}, more...)
	}
	q := "https://sqs.us-east-1.amazonaws.com/123456789012/spot"
	for _, tt := range []struct {
		name, mode string
		args       []string
		warn       string // in a warning; "" for none
		webhookOff bool
	}{
		{"dry-run webhook without dry run", "agent", append(agent, "--dry-run-webhook"), "--dry-run-webhook does nothing without --dry-run", false},
		{"empty webhook URL file", "agent", append(agent, "--webhook-url-file", empty, "--webhook-header", "X-A: 1"), "is empty: the webhook is off", true},
		{"malformed webhook header file", "agent", append(agent, "--webhook-url-file", hook, "--webhook-header-file", bad), "line 2 is not", true},
		{"controller drain margin past a Spot notice", "controller", ctl(q, "--drain-margin", "2m"), "--drain-margin=2m0s leaves a Spot interruption no time", false},
		{"European Sovereign Cloud region", "controller", ctl("https://sqs.eusc-de-east-1.amazonaws.eu/123456789012/q", "--region", "eusc-de-east-1"), "", false},
		{"FIPS pseudo-region", "controller", ctl("https://sqs-fips.us-east-1.amazonaws.com/123456789012/q", "--region", "us-east-1-fips"), "", false},
		{"a simulator's queue in the cluster", "controller", ctl("http://sqs.moto.svc.cluster.local:5000/123456789012/q", "--region", "us-east-1"), "", false},
		{"LocalStack path-style queue", "controller", ctl("http://localhost:4566/queue/us-east-1/000000000000/q", "--region", "us-east-1"), "", false},
		{"no client-side rate limit", "agent", append(agent, "--kube-api-qps=-1"), "", false},
	} {
		t.Run(tt.name, func(t *testing.T) {
			url, warnings, err := checkedMode(t, tt.mode, tt.args...)
			if err != nil {
				t.Fatalf("refused at start: %v; want it to start", err)
			}
			all := strings.Join(warnings, "\n")
			if tt.warn == "" && len(warnings) > 0 {
				t.Errorf("warnings %q, want none", all)
			}
			if tt.warn != "" && !strings.Contains(all, tt.warn) {
				t.Errorf("warnings %q lack %q", all, tt.warn)
			}
			if strings.Contains(all, "TOPSECRET") {
				t.Errorf("a warning prints a header file's secret: %q", all)
			}
			if tt.webhookOff && url != "" {
				t.Errorf("the webhook posts to %q; want it off", url)
			}
		})
	}
}
