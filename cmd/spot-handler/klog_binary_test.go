package main

import (
	"encoding/json"
	"strings"
	"testing"
	"time"

	"github.com/spot-handler/spot-handler/internal/testenv"
)

// TestBinaryLogsClientGoAsJSON: the built binary's controller, against the
// real plane, logs client-go's leader election (klog) as JSON like its own
// lines; no line of stderr is klog's text ("I1206 12:00:00.000000 …").
func TestBinaryLogsClientGoAsJSON(t *testing.T) {
	p := mustPlane(t)
	bin := mustBinary(t)
	// No SQS is reached: the leader only starts receiving once elected,
	// and this test ends at the election's first lines.
	c, err := testenv.StartChild("the controller", bin, "controller", []string{"--kubeconfig", p.Kubeconfig,
		"--queue-url", "http://127.0.0.1:1/123456789012/klog-test", "--region", "us-east-1", "--endpoint-url", "http://127.0.0.1:1",
		"--cluster-name", "klog-test", "--leader-elect-namespace", "default", "--leader-elect-name", "klog-test"},
		[]string{"AWS_ACCESS_KEY_ID=test", "AWS_SECRET_ACCESS_KEY=test", "AWS_EC2_METADATA_DISABLED=true"})
	if err != nil {
		t.Fatal(err)
	}
	c.KillAtCleanup(t, "controller log:", 40)
	c.WaitLog(t, 60*time.Second, "client-go's leader election line", "Successfully acquired lease")
	var seen bool
	for _, line := range strings.Split(strings.TrimSpace(c.Logs()), "\n") {
		var rec map[string]any
		if err := json.Unmarshal([]byte(line), &rec); err != nil {
			t.Errorf("not a JSON line: %q", line)
			continue
		}
		if msg, _ := rec["msg"].(string); strings.HasPrefix(msg, "Attempting to acquire leader lease") {
			seen = true
			if rec["logger"] != "client-go" || rec["level"] != "info" {
				t.Errorf("client-go's line %v: want logger client-go, level info", rec)
			}
		}
	}
	if !seen {
		t.Error("no JSON line \"Attempting to acquire leader lease...\"")
	}
}
