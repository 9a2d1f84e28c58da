package main

import (
	"bytes"
	"context"
	"strings"
	"testing"
)

func runMain(t *testing.T, env map[string]string, args ...string) (code int, out, errOut string) {
	t.Helper()
	var o, e bytes.Buffer
	code = Main(context.Background(), args, stdio{out: &o, err: &e, getenv: func(k string) string { return env[k] }})
	return code, o.String(), e.String()
}

func TestMainUsage(t *testing.T) {
	tests := []struct {
		name     string
		args     []string
		code     int
		out, err string
	}{
		{"no args", nil, 2, "Commands:", ""},
		{"help", []string{"--help"}, 0, "  agent     watch instance metadata", ""},
		{"unknown command", []string{"frobnicate"}, 2, "", `unknown command "frobnicate"`},
		{"version", []string{"version"}, 0, "spot-handler dev (commit unknown, go", ""},
		{"version unknown flag", []string{"version", "--bogus"}, 2, "", "spot-handler version: flag provided but not defined: -bogus"},
		{"version help", []string{"version", "--help"}, 0, "Usage: spot-handler version", ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			code, out, errOut := runMain(t, nil, tt.args...)
			if code != tt.code {
				t.Errorf("code = %d, want %d (stderr %q)", code, tt.code, errOut)
			}
			if !strings.Contains(out, tt.out) {
				t.Errorf("stdout %q lacks %q", out, tt.out)
			}
			if !strings.Contains(errOut, tt.err) {
				t.Errorf("stderr %q lacks %q", errOut, tt.err)
			}
			if strings.Count(strings.TrimSpace(errOut), "\n") > 0 {
				t.Errorf("stderr is more than one line: %q", errOut)
			}
		})
	}
}
