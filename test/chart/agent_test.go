package chart_test

import (
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	appsv1 "k8s.io/api/apps/v1"
)

var (
	agentOnce sync.Once
	agentDir  string
	agentBin  string
	agentErr  error
)

func TestMain(m *testing.M) {
	code := m.Run()
	if agentDir != "" {
		os.RemoveAll(agentDir)
	}
	os.Exit(code)
}

// agentBinary builds cmd/spot-handler once for the package's tests, as the
// image does (static, trimmed, stripped), so its footprint is the image's.
func agentBinary(tb testing.TB) string {
	tb.Helper()
	agentOnce.Do(func() {
		if agentDir, agentErr = os.MkdirTemp("", "spot-handler-chart-test-"); agentErr != nil {
			return
		}
		agentBin = filepath.Join(agentDir, "spot-handler")
		cmd := exec.Command("go", "build", "-trimpath", "-ldflags", "-s -w", "-o", agentBin, "./cmd/spot-handler")
		cmd.Dir = repoRoot(tb)
		cmd.Env = append(os.Environ(), "CGO_ENABLED=0")
		if out, err := cmd.CombinedOutput(); err != nil {
			agentErr = fmt.Errorf("building cmd/spot-handler: %v\n%s", err, out)
		}
	})
	if agentErr != nil {
		tb.Fatal(agentErr)
	}
	return agentBin
}

// agentFlag is one flag of `spot-handler agent`, as its --help describes it.
type agentFlag struct {
	typ, def string // typ "" is a bool; def "" is the zero value
}

var (
	helpFlagRe    = regexp.MustCompile(`^  --([a-z0-9-]+)(?: (\w+))?$`)
	helpDefaultRe = regexp.MustCompile(`\(default ([^()]*)\) \[\$SPOT_HANDLER_[A-Z_]+\]$`)
)

// agentHelpFlags runs `spot-handler agent --help` with no SPOT_HANDLER_ or
// NODE_NAME variables and returns its flags and their defaults.
func agentHelpFlags(tb testing.TB) map[string]agentFlag { return helpFlags(tb, "agent") }

// helpFlags runs `spot-handler <sub> --help` with no SPOT_HANDLER_,
// NODE_NAME or POD_ variables and returns its flags and their defaults.
func helpFlags(tb testing.TB, sub string) map[string]agentFlag {
	tb.Helper()
	cmd := exec.Command(agentBinary(tb), sub, "--help")
	for _, e := range os.Environ() {
		if !strings.HasPrefix(e, "SPOT_HANDLER_") && !strings.HasPrefix(e, "NODE_NAME=") && !strings.HasPrefix(e, "POD_") {
			cmd.Env = append(cmd.Env, e)
		}
	}
	out, err := cmd.CombinedOutput()
	if err != nil {
		tb.Fatalf("spot-handler %s --help: %v\n%s", sub, err, out)
	}
	flags := map[string]agentFlag{}
	lines := strings.Split(string(out), "\n")
	for i, l := range lines {
		m := helpFlagRe.FindStringSubmatch(l)
		if m == nil || i+1 >= len(lines) {
			continue
		}
		f := agentFlag{typ: m[2]}
		if d := helpDefaultRe.FindStringSubmatch(strings.TrimSpace(lines[i+1])); d != nil {
			f.def = d[1]
		}
		flags[m[1]] = f
	}
	if len(flags) < 15 {
		tb.Fatalf("parsed only %d flags from spot-handler %s --help:\n%s", len(flags), sub, out)
	}
	return flags
}

// sameValue compares a rendered flag value with the agent's default.
func sameValue(f agentFlag, rendered string) bool {
	switch f.typ {
	case "":
		return rendered == strconv.FormatBool(f.def == "true")
	case "duration":
		a, err1 := time.ParseDuration(rendered)
		b, err2 := time.ParseDuration(f.def)
		return err1 == nil && err2 == nil && a == b
	case "int", "float":
		def := f.def
		if def == "" {
			def = "0"
		}
		a, err1 := strconv.ParseFloat(rendered, 64)
		b, err2 := strconv.ParseFloat(def, 64)
		return err1 == nil && err2 == nil && a == b
	default:
		return rendered == f.def
	}
}

// renderedArgs returns the agent container's --flag=value arguments (the
// first of a repeated flag) and fails on an argument not of that form.
func renderedArgs(t *testing.T, ds *appsv1.DaemonSet) map[string]string {
	t.Helper()
	return flagArgs(t, ds.Spec.Template.Spec.Containers[0].Args[1:])
}

// flagArgs maps --flag=value arguments (the first of a repeated flag) and
// fails on an argument not of that form.
func flagArgs(t *testing.T, args []string) map[string]string {
	t.Helper()
	out := map[string]string{}
	for _, a := range args {
		name, value, ok := strings.Cut(strings.TrimPrefix(a, "--"), "=")
		if !strings.HasPrefix(a, "--") || !ok {
			t.Errorf("argument %q is not --flag=value", a)
			continue
		}
		if _, dup := out[name]; !dup {
			out[name] = value
		}
	}
	return out
}

// TestValuesMapOntoAgentFlags keeps the chart and the agent's flags one to
// one: every flag the chart passes exists, every flag is set by a value (or
// deliberately not, with the reason), and the chart's defaults are the
// agent's, so installing the chart changes no behaviour the agent documents.
func TestValuesMapOntoAgentFlags(t *testing.T) {
	flags := agentHelpFlags(t)
	def := renderedArgs(t, fromUnstructured[appsv1.DaemonSet](t, one(t, render(t, "spot", nil), "DaemonSet")))
	all := renderedArgs(t, fromUnstructured[appsv1.DaemonSet](t, one(t, render(t, "spot", allFeatures(t)), "DaemonSet")))
	// The listen addresses differ from the agent's on purpose: with hostNetwork
	// the chart binds the pod's IP and loopback, not every interface of the node.
	checkValuesMapOntoFlags(t, "agent", flags, all, def, notFromValues, "metrics-addr", "probe-addr")
}
