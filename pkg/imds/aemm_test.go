package imds

import (
	"context"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/spot-handler/spot-handler/internal/testenv"
)

// Tests against amazon-ec2-metadata-mock (AEMM), AWS's IMDS simulator, in
// IMDSv2-only mode. AEMM's spot time and rebalance noticeTime move with each
// request unless fixed, so these tests fix them with -t and -r: a moving
// time is a new notice each poll, by design.

// startAEMM starts AEMM with args; under -short (make test-unit, which runs
// only tests without peers) the test is skipped.
func startAEMM(t *testing.T, args ...string) *testenv.AEMM {
	t.Helper()
	if testing.Short() {
		t.Skip("-short: needs amazon-ec2-metadata-mock")
	}
	return testenv.StartAEMM(t, args...)
}

func rfc3339(t time.Time) string { return t.UTC().Format(time.RFC3339) }

func TestAEMMSpotAndRebalance(t *testing.T) {
	deadline := time.Now().UTC().Add(2 * time.Minute).Truncate(time.Second)
	noticeTime := time.Now().UTC().Truncate(time.Second)
	for _, action := range []string{"terminate", "stop", "hibernate"} {
		t.Run(action, func(t *testing.T) {
			a := startAEMM(t, "spot", "--imdsv2", "-a", action, "-t", rfc3339(deadline), "-r", rfc3339(noticeTime))
			h := startWatcher(t, a.URL, nil)
			h.next() // a second cycle must not deliver them again
			ns := h.drain()
			want := []Notice{
				{Kind: SpotInterruption, ID: "SpotInterruption/" + action + "/" + rfc3339(deadline), Action: action, Deadline: deadline, Detected: epoch},
				{Kind: RebalanceRecommendation, ID: "RebalanceRecommendation/" + rfc3339(noticeTime), NoticeTime: noticeTime, Detected: epoch},
			}
			checkParse(t, ns, nil, want, "")
			for _, r := range h.obs.take() {
				if !reachable(r.outcome) {
					t.Errorf("%s: outcome %q", r.path, r.outcome)
				}
			}
		})
	}
}

func TestAEMMScheduledMaintenance(t *testing.T) {
	notBefore := time.Now().UTC().Add(time.Hour).Truncate(time.Second)
	tests := []struct {
		code, state string
		delivered   bool
	}{
		{"instance-stop", "active", true},
		{"system-reboot", "active", true},
		{"instance-retirement", "canceled", false},
		{"system-maintenance", "completed", false},
	}
	for _, tt := range tests {
		t.Run(tt.code+"/"+tt.state, func(t *testing.T) {
			a := startAEMM(t, "events", "--imdsv2", "-o", tt.code, "-t", tt.state, "-b", rfc3339(notBefore))
			h := startWatcher(t, a.URL, nil)
			h.next()
			ns := h.drain()
			var want []Notice
			if tt.delivered {
				want = []Notice{{
					Kind:        ScheduledMaintenance,
					ID:          "ScheduledMaintenance/instance-event-1234567890abcdef0/" + rfc3339(notBefore),
					Action:      tt.code,
					Deadline:    notBefore,
					Detected:    epoch,
					Description: "The instance is scheduled for " + tt.code,
				}}
			}
			checkParse(t, ns, nil, want, "")
			if got := h.obs.outcomes(PathScheduledMaintenance); len(got) != 2 || got[0] != OutcomeOK || got[1] != OutcomeOK {
				t.Errorf("maintenance outcomes = %q, want two ok", got)
			}
			if len(h.w.Current()) != len(want) {
				t.Errorf("Current = %+v, want %d notices", h.w.Current(), len(want))
			}
		})
	}
}

// TestAEMMDelayedNotices checks a notice that appears while the watcher
// runs is delivered by the first poll cycle that starts after it is visible
// at IMDS, i.e. within one poll interval of appearing. The clock is fake, so
// the check is causal rather than timed: before each cycle a separate probe
// asks AEMM whether the notice is there yet.
func TestAEMMDelayedNotices(t *testing.T) {
	tests := []struct {
		name    string
		args    []string
		path    string
		kind    Kind
		visible func(status int, body string) bool
	}{
		{"spot", []string{"spot", "--imdsv2", "-d", "5", "-t", rfc3339(time.Now().Add(time.Hour)), "--rebalance-delay-sec", "3600"},
			PathSpotInstanceAction, SpotInterruption,
			func(status int, _ string) bool { return status == http.StatusOK }},
		{"rebalance", []string{"spot", "--imdsv2", "-d", "3600", "-r", rfc3339(time.Now()), "--rebalance-delay-sec", "5"},
			PathRebalance, RebalanceRecommendation,
			func(status int, _ string) bool { return status == http.StatusOK }},
		{"asg", []string{"asglifecycle", "--imdsv2", "--asg-termination-delay-sec", "5"},
			PathTargetLifecycleState, ASGTermination,
			func(status int, body string) bool {
				return status == http.StatusOK && strings.TrimSpace(body) == "Terminated"
			}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			a := startAEMM(t, tt.args...)
			h := startWatcher(t, a.URL, nil)
			if ns := ofKind(h.drain(), tt.kind); len(ns) != 0 {
				t.Fatalf("first cycle already delivered %+v; the delay is not in effect", ns)
			}
			absent := 0
			limit := time.Now().Add(60 * time.Second)
			for {
				if time.Now().After(limit) {
					t.Fatalf("no %s notice within 60s; AEMM log:\n%s", tt.kind, a.Log())
				}
				status, body := probe(t, a.URL, tt.path)
				seen := tt.visible(status, body)
				h.next()
				got := ofKind(h.drain(), tt.kind)
				if len(got) > 0 {
					if absent == 0 {
						t.Errorf("the probe never saw the notice absent: the delay was not observed")
					}
					if got[0].Detected != h.clock.Now() {
						t.Errorf("Detected = %v, want the cycle's time %v", got[0].Detected, h.clock.Now())
					}
					return
				}
				if seen {
					t.Fatalf("IMDS served the notice (%d %q) before the cycle, which did not deliver it", status, body)
				}
				absent++
				time.Sleep(250 * time.Millisecond) // let AEMM's real-time delay run
			}
		})
	}
}

func TestAEMMIdentity(t *testing.T) {
	cfg := filepath.Join(t.TempDir(), "aemm.json")
	err := os.WriteFile(cfg, []byte(`{"metadata":{"values":{"instance-id":"i-0123456789abcdef0","instance-type":"c5.large",`+
		`"placement-availability-zone":"eu-west-1b","placement-region":"eu-west-1","instance-life-cycle":"spot"}}}`), 0o600)
	if err != nil {
		t.Fatal(err)
	}
	a := startAEMM(t, "spot", "--imdsv2", "-c", cfg)
	c, err := NewClient(Config{Endpoint: a.URL})
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	id, err := c.WaitIdentity(ctx)
	want := Identity{InstanceID: "i-0123456789abcdef0", InstanceType: "c5.large", AvailabilityZone: "eu-west-1b", Region: "eu-west-1", LifeCycle: "spot"}
	if err != nil || id != want {
		t.Errorf("WaitIdentity = %+v, %v; want %+v", id, err, want)
	}
}

// probe reads path from IMDS with its own IMDSv2 token, independently of the
// client under test, and returns the status and body.
func probe(t *testing.T, endpoint, path string) (int, string) {
	t.Helper()
	req, _ := http.NewRequest(http.MethodPut, endpoint+"/latest/api/token", nil)
	req.Header.Set("X-Aws-Ec2-Metadata-Token-Ttl-Seconds", "60")
	tok := do(t, req)
	req, _ = http.NewRequest(http.MethodGet, endpoint+"/latest/"+path, nil)
	req.Header.Set("X-Aws-Ec2-Metadata-Token", tok.body)
	r := do(t, req)
	return r.status, r.body
}

type answer struct {
	status int
	body   string
}

func do(t *testing.T, req *http.Request) answer {
	t.Helper()
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatalf("probing IMDS: %v", err)
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(io.LimitReader(resp.Body, maxBodyBytes))
	if err != nil {
		t.Fatalf("probing IMDS: %v", err)
	}
	return answer{resp.StatusCode, string(b)}
}
