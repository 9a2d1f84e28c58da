package main

import (
	"flag"
	"io"
	"testing"

	"github.com/spot-handler/spot-handler/pkg/drain"
)

// orderOf parses mode's flags from args with SPOT_HANDLER_DRAIN_ORDER=env
// and returns the drain policy's order.
func orderOf(t *testing.T, mode, env string, args ...string) drain.Order {
	t.Helper()
	getenv := func(k string) string {
		if k == "SPOT_HANDLER_DRAIN_ORDER" {
			return env
		}
		return ""
	}
	var f modeFlags
	if err := parseModeFlags(mode, "", func(fs *flag.FlagSet) { f.register(fs, "margin") }, args,
		stdio{out: io.Discard, err: io.Discard, getenv: getenv}); err != nil {
		t.Fatalf("%s %v: %v", mode, args, err)
	}
	return f.policy().Order
}

// TestDrainOrderFlag: --drain-order (or SPOT_HANDLER_DRAIN_ORDER) reaches
// the drain policy of both modes; the default is priority waves.
func TestDrainOrderFlag(t *testing.T) {
	for _, mode := range []string{"agent", "controller"} {
		if got := orderOf(t, mode, ""); got != drain.OrderPriority {
			t.Errorf("%s: default order %q, want priority", mode, got)
		}
		if got := orderOf(t, mode, "", "--drain-order=none"); got != drain.OrderNone {
			t.Errorf("%s --drain-order=none: order %q", mode, got)
		}
		if got := orderOf(t, mode, "none"); got != drain.OrderNone {
			t.Errorf("%s SPOT_HANDLER_DRAIN_ORDER=none: order %q", mode, got)
		}
		if got := orderOf(t, mode, "none", "--drain-order=priority"); got != drain.OrderPriority {
			t.Errorf("%s: the flag should win over the environment, order %q", mode, got)
		}
	}
	p := drain.DefaultPolicy()
	p.Order = "random"
	if _, err := drain.New(nil, p, nil, nil); err == nil {
		t.Error("drain order random accepted")
	}
}
