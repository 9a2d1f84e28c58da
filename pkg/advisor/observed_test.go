package advisor

import (
	"context"
	"errors"
	"strings"
	"testing"
	"time"

	v1 "github.com/prometheus/client_golang/api/prometheus/v1"
	"github.com/prometheus/common/model"
)

// fakeProm answers each query from a table keyed by a substring of it.
type fakeProm struct {
	answers map[string]model.Value
	err     error
	asked   []string
}

func (f *fakeProm) Query(_ context.Context, q string, _ time.Time, _ ...v1.Option) (model.Value, v1.Warnings, v1.Infos, error) {
	f.asked = append(f.asked, q)
	if f.err != nil {
		return nil, nil, nil, f.err
	}
	for k, v := range f.answers {
		if strings.Contains(q, k) {
			return v, v1.Warnings{"some warning"}, nil, nil
		}
	}
	return model.Vector{}, nil, nil, nil
}

func sample(typ, zone string, v float64) *model.Sample {
	return &model.Sample{Metric: model.Metric{"instance_type": model.LabelValue(typ), "zone": model.LabelValue(zone)}, Value: model.SampleValue(v)}
}

func TestQueryObserved(t *testing.T) {
	p := &fakeProm{answers: map[string]model.Value{
		"increase(":      model.Vector{sample("m5.xlarge", "a", 3), sample("m5.xlarge", "b", 2), sample("", "a", 9), sample("c5.large", "a", -1)},
		"sum_over_time(": model.Vector{sample("m5.xlarge", "a", 100), sample("m5.xlarge", "b", 68), sample("m6i.xlarge", "a", 500)},
	}}
	obs, notes, err := QueryObserved(context.Background(), p, 7*24*time.Hour, testNow)
	if err != nil {
		t.Fatal(err)
	}
	if got := obs["m5.xlarge"]; got.Interruptions != 5 || got.NodeHours != 168 || got.Zones["b"].Interruptions != 2 {
		t.Errorf("m5.xlarge = %+v", got)
	}
	if got := obs["m6i.xlarge"]; got.Interruptions != 0 || got.NodeHours != 500 {
		t.Errorf("m6i.xlarge = %+v", got)
	}
	if _, ok := obs["c5.large"]; ok || len(obs) != 2 {
		t.Errorf("observed types = %v: negative and unlabelled samples must be dropped", obs.Types())
	}
	if len(notes) != 2 || notes[0] != "Prometheus: some warning" {
		t.Errorf("notes = %q", notes)
	}
	if len(p.asked) != 2 || !strings.Contains(p.asked[0], "[1w]") {
		t.Errorf("queries = %q", p.asked)
	}
}

func TestQueryObservedErrors(t *testing.T) {
	_, _, err := QueryObserved(context.Background(), &fakeProm{err: errors.New("connection refused")}, time.Hour, testNow)
	if err == nil || !strings.Contains(err.Error(), "querying Prometheus") || !strings.Contains(err.Error(), "connection refused") {
		t.Errorf("error = %v", err)
	}
	_, _, err = QueryObserved(context.Background(), &fakeProm{answers: map[string]model.Value{"increase(": &model.Scalar{}}}, time.Hour, testNow)
	if err == nil || !strings.Contains(err.Error(), "got a scalar, want a vector") {
		t.Errorf("error = %v", err)
	}
}

func TestQueries(t *testing.T) {
	q := InterruptionsQuery(30 * 24 * time.Hour)
	for _, part := range []string{`spot_handler_notices_total{kind="SpotInterruption"}[30d]`, "on (instance, pod) group_left (instance_type, zone)", "last_over_time(spot_handler_node_info[30d])"} {
		if !strings.Contains(q, part) {
			t.Errorf("interruptions query lacks %q:\n%s", part, q)
		}
	}
	q = NodeHoursQuery(30 * 24 * time.Hour)
	for _, part := range []string{`spot_handler_node_info{lifecycle=~"(?i)spot"}`, "[30d:5m]", "/ 12"} {
		if !strings.Contains(q, part) {
			t.Errorf("node-hours query lacks %q:\n%s", part, q)
		}
	}
}
