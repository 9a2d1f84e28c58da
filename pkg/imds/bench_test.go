package imds

import (
	"context"
	"math/rand/v2"
	"net/http"
	"slices"
	"sync/atomic"
	"testing"
	"time"
)

// BenchmarkPollCycle measures one steady-state poll cycle (four IMDSv2
// requests against a local server, a spot notice and a maintenance event
// present and already delivered, two paths 404).
//
//	go test -run '^$' -bench BenchmarkPollCycle -benchmem ./pkg/imds/
func BenchmarkPollCycle(b *testing.B) {
	f := newFakeIMDS(b)
	f.setBody("meta-data/spot/instance-action", http.StatusOK, spotBody("terminate", epoch))
	f.setBody("meta-data/events/maintenance/scheduled", http.StatusOK,
		maintenanceBody([4]string{"instance-event-1", "system-reboot", "active", "3 Jan 2030 00:00:00 GMT"}))
	c, err := NewClient(Config{Endpoint: f.URL()})
	if err != nil {
		b.Fatal(err)
	}
	out := make(chan Notice, 16)
	p := newPoller(NewWatcher(c), out)
	ctx := context.Background()
	if err := p.cycle(ctx); err != nil || len(out) != 2 {
		b.Fatalf("first cycle: %v, %d notices", err, len(out))
	}
	b.ReportAllocs()
	for b.Loop() {
		if err := p.cycle(ctx); err != nil || p.pending != 0 {
			b.Fatalf("cycle: %v, %d reads left", err, p.pending)
		}
	}
	if len(out) != 2 {
		b.Fatalf("steady cycles delivered %d notices", len(out)-2)
	}
}

// BenchmarkNoticeLatency measures the time from a spot notice appearing at
// a local IMDS to its delivery on the watcher's channel, on the real clock,
// with appearances at random phases of the poll. Each sample takes about
// one poll interval, so fix the count; at least minLatencySamples are taken
// whatever b.N is, so `-benchtime 1x` still gives a distribution:
//
//	go test -run '^$' -bench BenchmarkNoticeLatency -benchtime 100x ./pkg/imds/
func BenchmarkNoticeLatency(b *testing.B) {
	for _, poll := range []time.Duration{time.Second, 250 * time.Millisecond} {
		b.Run("poll="+poll.String(), func(b *testing.B) { benchLatency(b, poll) })
	}
}

// minLatencySamples is the fewest latency samples a run takes.
const minLatencySamples = 30

func benchLatency(b *testing.B, poll time.Duration) {
	f := newFakeIMDS(b)
	var current atomic.Pointer[string]
	f.set("meta-data/spot/instance-action", func(w http.ResponseWriter, r *http.Request) {
		if p := current.Load(); p != nil {
			w.Write([]byte(*p))
			return
		}
		http.Error(w, "not found", http.StatusNotFound)
	})
	c, err := NewClient(Config{Endpoint: f.URL(), PollInterval: poll})
	if err != nil {
		b.Fatal(err)
	}
	w := NewWatcher(c)
	out := make(chan Notice, 64)
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- w.Run(ctx, out) }()
	defer func() { cancel(); <-done }()

	rng := rand.New(rand.NewPCG(1, 2))
	samples := max(b.N, minLatencySamples)
	lat := make([]time.Duration, 0, samples)
	b.ResetTimer()
	for i := range samples {
		time.Sleep(time.Duration(rng.Int64N(int64(poll))))
		deadline := epoch.Add(time.Duration(i) * time.Second)
		body := spotBody("terminate", deadline)
		id := noticeID(SpotInterruption, "terminate", idTime(deadline))
		current.Store(&body)
		appeared := time.Now()
		if err := waitNotice(out, id, 10*poll); err != nil {
			b.Fatal(err)
		}
		lat = append(lat, time.Since(appeared))
	}
	b.StopTimer()
	slices.Sort(lat)
	ms := func(d time.Duration) float64 { return float64(d) / float64(time.Millisecond) }
	b.ReportMetric(ms(percentile(lat, 50)), "p50-ms")
	b.ReportMetric(ms(percentile(lat, 99)), "p99-ms")
	b.ReportMetric(ms(lat[len(lat)-1]), "max-ms")
	b.ReportMetric(float64(len(lat)), "samples")
}

// waitNotice reads out until the notice with id arrives.
func waitNotice(out <-chan Notice, id string, limit time.Duration) error {
	timeout := time.After(limit)
	for {
		select {
		case n := <-out:
			if n.ID == id && !n.Canceled {
				return nil
			}
		case <-timeout:
			return context.DeadlineExceeded
		}
	}
}

// percentile returns the p-th percentile of sorted (nearest rank).
func percentile(sorted []time.Duration, p int) time.Duration {
	i := (len(sorted)*p + 99) / 100
	return sorted[max(i-1, 0)]
}
