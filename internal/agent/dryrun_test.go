package agent

import (
	"context"
	"strings"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus/testutil"
	"go.uber.org/zap"

	"github.com/spot-handler/spot-handler/internal/webhook/webhooktest"
)

// TestDryRunIsNoFailure (issue #12, case 1): a dry-run drain ends as
// planned, with the missed-deadline counter at 0, no Event and no webhook;
// --dry-run-webhook posts one that says dry-run.
func TestDryRunIsNoFailure(t *testing.T) {
	for _, withHook := range []bool{false, true} {
		srv := webhooktest.New(t)
		f := &fakeActor{dry: true}
		ta := newTestAgent(t, f, true)
		hook, err := newWebhook(srv.URL, "", nil, ta.m, zap.NewNop())
		if err != nil {
			t.Fatal(err)
		}
		dry := &dryEffects{log: zap.NewNop()}
		if withHook {
			dry.hook = hook
		}
		ta.out = dry
		ta.apply(context.Background(), fromIMDS(spot("a", 2*time.Minute)))
		ta.settle()
		hook.Wait()
		bodies := srv.Bodies()
		if v := testutil.ToFloat64(ta.m.MissedDeadline); v != 0 {
			t.Errorf("webhook=%v: missed deadline = %v, want 0", withHook, v)
		}
		if n := len(ta.rec.Events); n != 0 {
			t.Errorf("webhook=%v: %d Events recorded in a dry run", withHook, n)
		}
		switch {
		case !withHook && len(bodies) != 0:
			t.Errorf("dry run posted %q", bodies)
		case withHook && (len(bodies) != 1 || !strings.Contains(bodies[0], "dry-run notice")):
			t.Errorf("--dry-run-webhook posted %q, want one body that says dry-run notice", bodies)
		}
		if got := f.got(); len(got) != 1 || got[0] != "drain a" {
			t.Errorf("calls = %q, want the planning drain only", got)
		}
	}
}
