package main

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// TestStartChecks: every value that cannot work is refused at start, before
// any client is built or server started, with exit 2 and one line naming
// the flag (or variable), the value and what to use instead. The rows are
// issue #22's list, then the other flags' limits.
func TestStartChecks(t *testing.T) {
	dir := t.TempDir()
	empty := filepath.Join(dir, "empty-url")
	if err := os.WriteFile(empty, []byte("\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(empty+"-bad", []byte("X-Ok: 1\ntoken-without-name\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	agent := []string{"agent", "--node-name", "n1"}
	q := "https://sqs.us-east-1.amazonaws.com/123456789012/spot"
	ctl := []string{"controller", "--cluster-name", "c", "--queue-url", q, "--leader-elect-namespace", "kube-system"}
	adv := []string{"advise", "--offline", "--cache-dir", dir, "--region", "us-east-1"}
	with := func(base []string, more ...string) []string { return append(append([]string{}, base...), more...) }
	tests := []struct {
		name string
		args []string
		env  map[string]string
		want []string // each on the one line of stderr
	}{
		// issue #22, item 2
		{"drain margin past a Spot notice", with(agent, "--drain-margin", "10m"), nil, []string{"--drain-margin=10m0s", "2m", "Spot"}},
		{"drain margin from the environment", agent, map[string]string{"SPOT_HANDLER_DRAIN_MARGIN": "10m"}, []string{"--drain-margin=10m0s"}},
		{"negative risk weight", with(adv, "--risk-weight", "-3"), nil, []string{"--risk-weight=-3", "0 or more"}},
		{"zones of another region", []string{"advise", "--offline", "--cache-dir", dir, "--region", "eu-west-1", "--zones", "us-east-1a"}, nil, []string{"--zones", "us-east-1a", "eu-west-1"}},
		{"queue URL not a URL", []string{"controller", "--cluster-name", "c", "--queue-url", "not a url"}, nil, []string{`--queue-url="not a url"`, "https://sqs."}},
		{"endpoint not http", with(ctl, "--endpoint-url", "ftp://x"), nil, []string{`--endpoint-url="ftp://x"`, "http"}},
		{"setup cluster too long for a queue name", []string{"controller", "setup", "--cluster", strings.Repeat("c", 90)}, nil, []string{"90 characters", "80-character limit on queue names"}},
		{"duration without a unit", with(agent, "--poll-interval=5"), nil, []string{`--poll-interval="5"`, "a duration like 5s"}},
		{"bool variable not true/false", agent, map[string]string{"SPOT_HANDLER_DRY_RUN": "yes"}, []string{`SPOT_HANDLER_DRY_RUN="yes"`, "--dry-run", "true or false"}},
		{"API burst 0", with(agent, "--kube-api-burst=0"), nil, []string{"--kube-api-burst=0", "1 or more"}},
		{"metrics address nonsense", with(agent, "--metrics-addr", "nonsense"), nil, []string{`--metrics-addr="nonsense"`, "host:port"}},
		// the other flags' limits
		{"probe address port out of range", with(agent, "--probe-addr", ":70000"), nil, []string{`--probe-addr=":70000"`}},
		{"metrics and probes on one port", with(agent, "--metrics-addr", ":9102", "--probe-addr", "0.0.0.0:9102"), nil, []string{"--probe-addr", "--metrics-addr", "same"}},
		{"API QPS 0", with(agent, "--kube-api-qps=0"), nil, []string{"--kube-api-qps=0"}},
		{"negative drain margin", with(ctl, "--drain-margin=-1s"), nil, []string{"--drain-margin=-1s"}},
		{"controller API burst 0", with(ctl, "--kube-api-burst=0"), nil, []string{"--kube-api-burst=0"}},
		{"IMDS endpoint not a URL", with(agent, "--imds-endpoint", "169.254.169.254"), nil, []string{`--imds-endpoint="169.254.169.254"`, "http://"}},
		{"webhook URL and its file", with(agent, "--webhook-url", "https://hooks.example/x", "--webhook-url-file", empty), nil, []string{"--webhook-url", "--webhook-url-file", "one"}},
		{"webhook URL not http", with(agent, "--webhook-url", "hooks.example/x"), nil, []string{"--webhook-url"}},
		{"webhook header not Name: value", with(agent, "--webhook-url", "https://hooks.example/x", "--webhook-header", "Bearer abc"), nil, []string{`--webhook-header=(not shown`, `"Name: value"`}},
		{"webhook header from the environment", with(agent, "--webhook-url", "https://hooks.example/x"), map[string]string{"SPOT_HANDLER_WEBHOOK_HEADER": "X-A: 1\nHost: x"}, []string{"SPOT_HANDLER_WEBHOOK_HEADER", "Host is set by the client"}},
		{"webhook header without a webhook", with(agent, "--webhook-header", "X-A: 1"), nil, []string{"--webhook-header", "--webhook-url"}},
		{"webhook header file missing", with(agent, "--webhook-url", "https://hooks.example/x", "--webhook-header-file", filepath.Join(dir, "nope")), nil, []string{"--webhook-header-file"}},
		{"webhook proxy not a URL", with(ctl, "--webhook-url", "https://hooks.example/x", "--webhook-proxy", "proxy:3128"), nil, []string{"--webhook-proxy", "http://HOST:PORT"}},
		{"PDB fallback", with(agent, "--pdb-fallback", "force"), nil, []string{`--pdb-fallback="force"`, "delete or wait"}},
		{"drain order", with(ctl, "--drain-order", "random"), nil, []string{`--drain-order="random"`, "priority or none"}},
		{"taint effect", with(agent, "--taint-effect", "NoScheduleX"), nil, []string{`--taint-effect="NoScheduleX"`, "PreferNoSchedule"}},
		{"exclude label", with(agent, "--exclude-lb-label", "not a label"), nil, []string{`--exclude-lb-label="not a label"`}},
		{"bad region", with(ctl, "--region", "us-east"), nil, []string{`--region="us-east"`, "us-east-1"}},
		{"region unlike the queue's", with(ctl, "--region", "eu-west-1"), nil, []string{"--region=eu-west-1", "us-east-1", "--queue-url"}},
		{"unknown recheck negative", with(ctl, "--unknown-recheck=-1s"), nil, []string{"--unknown-recheck"}},
		{"advise zone not a zone", with(adv, "--zones", "a"), nil, []string{"--zones", `"a"`}},
		{"advise feed URL", with(adv, "--feed-url", "spot.json"), nil, []string{`--feed-url="spot.json"`}},
		{"advise max age", with(adv, "--max-age", "0s"), nil, []string{"--max-age"}},
		{"advise prior node hours", with(adv, "--prior-node-hours", "-1"), nil, []string{"--prior-node-hours"}},
		{"advise prometheus URL", with(adv, "--prometheus-url", "prom:9090"), nil, []string{`--prometheus-url="prom:9090"`}},
		{"rehearse timeout negative", []string{"rehearse", "--node", "n1", "--timeout=-1s"}, nil, []string{"--timeout"}},
		{"rehearse margin past the termination", []string{"rehearse", "--node", "n1", "--in", "30s", "--drain-margin", "30s"}, nil, []string{"--drain-margin=30s", "--in"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			code, _, errOut := runMain(t, tt.env, tt.args...)
			line := strings.TrimSpace(errOut)
			if code != 2 || strings.Contains(line, "\n") {
				t.Fatalf("exit %d, stderr %q: want exit 2 and one line", code, errOut)
			}
			for _, w := range tt.want {
				if !strings.Contains(line, w) {
					t.Errorf("stderr %q lacks %q", line, w)
				}
			}
			if strings.Contains(line, "Bearer abc") {
				t.Errorf("stderr %q prints a header's value", line)
			}
		})
	}
}
