package imds

import (
	"context"
	"errors"
	"strings"
	"testing"
	"time"

	testingclock "k8s.io/utils/clock/testing"
)

// serveIdentity sets every identity path on f.
func serveIdentity(f *fakeIMDS) {
	f.setBody("meta-data/instance-id", 200, "i-0abc")
	f.setBody("meta-data/instance-type", 200, "m5.large\n")
	f.setBody("meta-data/placement/availability-zone", 200, "eu-west-1b")
	f.setBody("meta-data/placement/region", 200, "eu-west-1")
	f.setBody("meta-data/instance-life-cycle", 200, "spot")
}

var wantIdentity = Identity{InstanceID: "i-0abc", InstanceType: "m5.large", AvailabilityZone: "eu-west-1b", Region: "eu-west-1", LifeCycle: "spot"}

func TestIdentity(t *testing.T) {
	tests := []struct {
		name    string
		break_  func(*fakeIMDS)
		want    Identity
		wantErr string
		outcome string // the outcome observed for instance-life-cycle
	}{
		{"all fields", func(*fakeIMDS) {}, wantIdentity, "", OutcomeOK},
		{"missing life cycle", func(f *fakeIMDS) { f.set("meta-data/instance-life-cycle", nil) },
			Identity{InstanceID: "i-0abc", InstanceType: "m5.large", AvailabilityZone: "eu-west-1b", Region: "eu-west-1"},
			"reading meta-data/instance-life-cycle", OutcomeNotFound},
		{"garbage life cycle", func(f *fakeIMDS) { f.setBody("meta-data/instance-life-cycle", 200, "on demand") },
			Identity{InstanceID: "i-0abc", InstanceType: "m5.large", AvailabilityZone: "eu-west-1b", Region: "eu-west-1"},
			"not a single word", OutcomeParseError},
		{"server error", func(f *fakeIMDS) { f.setBody("meta-data/instance-life-cycle", 500, "x") },
			Identity{InstanceID: "i-0abc", InstanceType: "m5.large", AvailabilityZone: "eu-west-1b", Region: "eu-west-1"},
			"StatusCode: 500", OutcomeServerError},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			f := newFakeIMDS(t)
			serveIdentity(f)
			tt.break_(f)
			obs := &recorder{}
			c, err := NewClient(Config{Endpoint: f.URL(), Observer: obs})
			if err != nil {
				t.Fatal(err)
			}
			got, err := c.Identity(context.Background())
			if got != tt.want {
				t.Errorf("Identity = %+v, want %+v", got, tt.want)
			}
			if tt.wantErr == "" && err != nil || tt.wantErr != "" && (err == nil || !strings.Contains(err.Error(), tt.wantErr)) {
				t.Errorf("error = %v, want %q", err, tt.wantErr)
			}
			if got := obs.outcomes("meta-data/instance-life-cycle"); len(got) != 1 || got[0] != tt.outcome {
				t.Errorf("life cycle outcomes = %q, want [%q]", got, tt.outcome)
			}
		})
	}
}

// TestWaitIdentity fails twice, then serves the identity; the waits between
// attempts follow the backoff on the fake clock, and fields read early are
// not read again.
func TestWaitIdentity(t *testing.T) {
	f := newFakeIMDS(t)
	serveIdentity(f)
	f.setBody("meta-data/instance-type", 503, "busy")
	clk := testingclock.NewFakeClock(epoch)
	c, err := NewClient(Config{Endpoint: f.URL(), Clock: clk})
	if err != nil {
		t.Fatal(err)
	}
	type result struct {
		id  Identity
		err error
	}
	done := make(chan result, 1)
	go func() {
		id, err := c.WaitIdentity(context.Background())
		done <- result{id, err}
	}()
	waitWaiter(t, clk)
	clk.Step(2*time.Second - time.Millisecond) // first wait: 2 × PollInterval
	if !clk.HasWaiters() {
		t.Fatalf("retried before 2s")
	}
	clk.Step(time.Millisecond)
	waitWaiter(t, clk)
	f.mu.Lock()
	idHits := f.hits["meta-data/instance-id"]
	f.mu.Unlock()
	serveIdentity(f)
	clk.Step(4 * time.Second)
	select {
	case r := <-done:
		if r.err != nil || r.id != wantIdentity {
			t.Errorf("WaitIdentity = %+v, %v; want %+v", r.id, r.err, wantIdentity)
		}
	case <-time.After(30 * time.Second):
		t.Fatal("WaitIdentity did not return")
	}
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.hits["meta-data/instance-id"] != idHits || idHits != 1 {
		t.Errorf("instance-id read %d then %d times, want once", idHits, f.hits["meta-data/instance-id"])
	}
}

// TestWaitIdentityCanceled returns the known fields and an error wrapping
// the context's when ctx ends first.
func TestWaitIdentityCanceled(t *testing.T) {
	f := newFakeIMDS(t)
	serveIdentity(f)
	f.set("meta-data/placement/region", nil)
	clk := testingclock.NewFakeClock(epoch)
	c, err := NewClient(Config{Endpoint: f.URL(), Clock: clk})
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	go func() {
		waitWaiter(t, clk)
		cancel()
	}()
	id, err := c.WaitIdentity(ctx)
	want := wantIdentity
	want.Region = ""
	if id != want || !errors.Is(err, context.Canceled) || !strings.Contains(err.Error(), "placement/region") {
		t.Errorf("WaitIdentity = %+v, %v; want %+v and an error naming the region and the cancel", id, err, want)
	}
}

// waitWaiter waits until something waits on clk.
func waitWaiter(t *testing.T, clk *testingclock.FakeClock) {
	limit := time.Now().Add(30 * time.Second)
	for !clk.HasWaiters() {
		if time.Now().After(limit) {
			t.Errorf("nothing waits on the clock")
			return
		}
		time.Sleep(time.Millisecond)
	}
}
