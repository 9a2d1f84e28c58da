package main

import (
	"strings"
	"testing"

	"github.com/spot-handler/spot-handler/internal/setup"
)

func TestControllerSetup(t *testing.T) {
	cfn, err := mustPlan(t, setup.Config{Cluster: "prod", DescribeInstances: true}).CloudFormation()
	if err != nil {
		t.Fatal(err)
	}
	doc, err := mustPlan(t, setup.Config{Cluster: "prod"}).JSON()
	if err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name string
		args []string
		env  map[string]string
		out  []byte
		err  string // on stderr, with exit code 2
	}{
		{"template", []string{"--cluster", "prod"}, nil, cfn, ""},
		{"cluster from the environment", nil, map[string]string{"SPOT_HANDLER_CLUSTER": "prod"}, cfn, ""},
		{"json without the fallback", []string{"--cluster=prod", "--output=json", "--describe-instances=false"}, nil, doc, ""},
		{"no cluster", nil, nil, nil, "--cluster is required"},
		{"bad cluster", []string{"--cluster", "a/b"}, nil, nil, `cluster name "a/b" is not valid`},
		{"bad output", []string{"--cluster", "prod", "--output", "yaml"}, nil, nil, `--output "yaml" is not cloudformation or json`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			code, out, errOut := runMain(t, tt.env, append([]string{"controller", "setup"}, tt.args...)...)
			if tt.err != "" {
				if code != 2 || !strings.Contains(errOut, tt.err) {
					t.Fatalf("exit %d, stderr %q; want 2 and %q", code, errOut, tt.err)
				}
				return
			}
			if code != 0 || out != string(tt.out) {
				t.Errorf("exit %d (stderr %q); output differs from the setup package's rendering:\n%s", code, errOut, out)
			}
		})
	}
}

func mustPlan(t *testing.T, cfg setup.Config) *setup.Plan {
	t.Helper()
	p, err := setup.New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	return p
}
