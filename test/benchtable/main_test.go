package main

import (
	"strings"
	"testing"
)

func TestParse(t *testing.T) {
	in := `cpu: Intel(R) Xeon(R) Processor
BenchmarkNoticeToCordon-2   	       1	9558525561 ns/op	       652.0 p50_ms	       803.0 p99_ms	         3.000 runs
BenchmarkNoticeLatency/poll=1s-2         	       1	  123 ns/op	       412.0 p50-ms
PASS`
	f, cpu, err := parse(strings.NewReader(in))
	if err != nil {
		t.Fatal(err)
	}
	if cpu != "Intel(R) Xeon(R) Processor" {
		t.Errorf("cpu = %q", cpu)
	}
	if f["BenchmarkNoticeToCordon"]["p99_ms"] != 803 || f["BenchmarkNoticeToCordon"]["runs"] != 3 {
		t.Errorf("figures = %v", f)
	}
	if f["BenchmarkNoticeLatency/poll=1s"]["p50-ms"] != 412 {
		t.Errorf("sub-benchmark not parsed: %v", f)
	}
}
