package main

import (
	"flag"
	"io"
	"testing"

	"github.com/spot-handler/spot-handler/pkg/drain"
)

// TestDrainOrderFlag: --drain-order (or SPOT_HANDLER_DRAIN_ORDER) reaches
// the drain policy of both modes; the default is priority waves.
func TestDrainOrderFlag(t *testing.T) {
	for _, tt := range []struct {
		args []string
		env  string
		want drain.Order
	}{
		{nil, "", drain.OrderPriority},
		{[]string{"--drain-order=none"}, "", drain.OrderNone},
		{nil, "none", drain.OrderNone},
		{[]string{"--drain-order=priority"}, "none", drain.OrderPriority},
	} {
		for _, mode := range []string{"agent", "controller"} {
			getenv := func(k string) string {
				if k == "SPOT_HANDLER_DRAIN_ORDER" {
					return tt.env
				}
				return ""
			}
			var f modeFlags
			err := parseModeFlags(mode, "", func(fs *flag.FlagSet) { f.register(fs, "margin") }, tt.args,
				stdio{out: io.Discard, err: io.Discard, getenv: getenv})
			if err != nil {
				t.Fatalf("%s %v: %v", mode, tt.args, err)
			}
			if got := f.policy().Order; got != tt.want {
				t.Errorf("%s %v env %q: order %q, want %q", mode, tt.args, tt.env, got, tt.want)
			}
		}
	}
	if _, err := drain.New(nil, func() drain.Policy { p := drain.DefaultPolicy(); p.Order = "random"; return p }(), nil, nil); err == nil {
		t.Error("drain order random accepted")
	}
}
