package main

import (
	"bytes"
	"encoding/json"
	"errors"
	"strings"
	"testing"

	"k8s.io/klog/v2"
)

// TestKlogIntoZap: what client-go logs through klog comes out in the
// process's format (one JSON object a line, or console), not klog's text.
func TestKlogIntoZap(t *testing.T) {
	t.Cleanup(klog.ClearLogger)
	for _, format := range []string{"json", "console"} {
		t.Run(format, func(t *testing.T) {
			var out bytes.Buffer
			if _, err := newLogger(format, "info", stdio{err: &out}); err != nil {
				t.Fatal(err)
			}
			klog.Infof("attempting to acquire leader lease %s", "kube-system/x")
			klog.ErrorS(errors.New("connection refused"), "Failed to watch", "reflector", "nodes")
			klog.V(4).Info("noise below the default verbosity")
			klog.Flush()
			lines := strings.Split(strings.TrimSpace(out.String()), "\n")
			if len(lines) != 2 {
				t.Fatalf("got %d lines, want 2:\n%s", len(lines), out.String())
			}
			if format == "console" {
				if !strings.Contains(lines[0], "INFO\tclient-go\tattempting to acquire leader lease kube-system/x") {
					t.Errorf("console line %q", lines[0])
				}
				return
			}
			var info, failed map[string]any
			if err := json.Unmarshal([]byte(lines[0]), &info); err != nil {
				t.Fatalf("not JSON: %q", lines[0])
			}
			if err := json.Unmarshal([]byte(lines[1]), &failed); err != nil {
				t.Fatalf("not JSON: %q", lines[1])
			}
			if info["msg"] != "attempting to acquire leader lease kube-system/x" || info["level"] != "info" || info["logger"] != "client-go" {
				t.Errorf("info line %v", info)
			}
			if failed["msg"] != "Failed to watch" || failed["level"] != "error" || failed["reflector"] != "nodes" || failed["error"] != "connection refused" {
				t.Errorf("error line %v", failed)
			}
		})
	}
}
