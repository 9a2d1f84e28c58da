package metrics

import (
	"sort"
	"strings"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/testutil"
)

// TestNames pins the metric names that the chart and the advisor rely on.
func TestNames(t *testing.T) {
	reg := prometheus.NewRegistry()
	got := New(reg).Names()
	for _, want := range []string{
		"spot_handler_notices_total", "spot_handler_termination_deadline_timestamp_seconds",
		"spot_handler_drain_duration_seconds", "spot_handler_detection_to_cordon_seconds",
		"spot_handler_pods_total", "spot_handler_late_pods_total", "spot_handler_drain_missed_deadline_total",
		"spot_handler_imds_requests_total", "spot_handler_imds_last_success_timestamp_seconds",
		"spot_handler_webhook_requests_total", "spot_handler_node_info", "spot_handler_build_info",
		"go_goroutines", "process_resident_memory_bytes",
	} {
		i := sort.SearchStrings(got, want)
		if i == len(got) || got[i] != want {
			t.Errorf("metric %s not registered", want)
		}
	}
}

func TestObserveRequest(t *testing.T) {
	reg := prometheus.NewRegistry()
	m := New(reg)
	at := time.Unix(1700000000, 500_000_000)
	m.ObserveRequest("meta-data/spot/instance-action", "not_found", at)
	m.ObserveRequest("meta-data/spot/instance-action", "timeout", at.Add(time.Second))
	if v := testutil.ToFloat64(m.IMDSLastSuccess); v != 1700000000.5 {
		t.Errorf("last success = %v, want the not_found answer's time", v)
	}
	err := testutil.GatherAndCompare(reg, strings.NewReader(`
# HELP spot_handler_imds_requests_total Instance metadata requests, by path and outcome (ok, not_found, unauthorized, forbidden, throttled, server_error, timeout, connection_error, parse_error, other).
# TYPE spot_handler_imds_requests_total counter
spot_handler_imds_requests_total{outcome="not_found",path="meta-data/spot/instance-action"} 1
spot_handler_imds_requests_total{outcome="timeout",path="meta-data/spot/instance-action"} 1
`), "spot_handler_imds_requests_total")
	if err != nil {
		t.Error(err)
	}
}

// TestQueueNames pins the controller's metric names.
func TestQueueNames(t *testing.T) {
	reg := prometheus.NewRegistry()
	NewQueue(reg, []string{"spot_interruption"})
	fams, err := reg.Gather()
	if err != nil {
		t.Fatal(err)
	}
	got := map[string]bool{}
	for _, f := range fams {
		got[f.GetName()] = true
	}
	for _, want := range []string{"spot_handler_queue_messages_total", "spot_handler_queue_api_errors_total",
		"spot_handler_drains_in_flight", "spot_handler_drains_waiting", "spot_handler_leader"} {
		if !got[want] {
			t.Errorf("metric %s not registered (have %v)", want, got)
		}
	}
}
