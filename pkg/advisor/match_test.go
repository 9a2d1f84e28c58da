package advisor

import (
	"errors"
	"math"
	"regexp"
	"strings"
	"testing"
)

func TestParseRange(t *testing.T) {
	tests := []struct {
		in       string
		want     Range
		str, err string
	}{
		{"", Range{}, "any", ""},
		{"4", Range{4, 4, true}, "4", ""},
		{" 4-8 ", Range{4, 8, true}, "4-8", ""},
		{"0.5-1.5", Range{0.5, 1.5, true}, "0.5-1.5", ""},
		{"16+", Range{16, math.Inf(1), true}, "16+", ""},
		{"8-4", Range{}, "", "minimum is larger"},
		{"-4", Range{}, "", "not a number"},
		{"four", Range{}, "", "not a number ≥ 0 (want N, MIN-MAX or MIN+)"},
		{"4-", Range{}, "", "not a number"},
		{"NaN", Range{}, "", "not a number"},
		{"Inf", Range{}, "", "not a number"},
	}
	for _, tt := range tests {
		t.Run(tt.in, func(t *testing.T) {
			got, err := ParseRange(tt.in)
			if tt.err != "" {
				if err == nil || !strings.Contains(err.Error(), tt.err) {
					t.Fatalf("ParseRange(%q) error = %v, want %q", tt.in, err, tt.err)
				}
				return
			}
			if err != nil || got != tt.want || got.String() != tt.str {
				t.Fatalf("ParseRange(%q) = %+v (%s), %v; want %+v (%s)", tt.in, got, got, err, tt.want, tt.str)
			}
		})
	}
}

func smallReq() Requirements {
	return Requirements{Region: "us-test-1", OS: Linux, Arch: AMD64, MaxBucket: -1, Count: 10}
}

func matchNames(t *testing.T, req Requirements) ([]string, []string) {
	t.Helper()
	f := smallFeed(t)
	m, err := Match(f, SpecsFromFeed(f), req)
	if err != nil {
		t.Fatal(err)
	}
	sortByName(m.Candidates)
	var names []string
	for _, c := range m.Candidates {
		names = append(names, c.Type)
	}
	return names, m.Notes
}

func TestMatchFilters(t *testing.T) {
	re := regexp.MustCompile
	tests := []struct {
		name string
		edit func(*Requirements)
		want string
	}{
		{"4 vCPU 16 GiB amd64", func(r *Requirements) { r.VCPUs, r.MemoryGiB = Range{4, 4, true}, Range{16, 16, true} },
			"m5.xlarge m5a.xlarge m6a.xlarge m6i.xlarge m7i.xlarge"},
		{"burstable asked for", func(r *Requirements) {
			r.VCPUs, r.MemoryGiB, r.Burstable = Range{4, 4, true}, Range{16, 16, true}, true
		},
			"m5.xlarge m5a.xlarge m6a.xlarge m6i.xlarge m7i.xlarge t3.xlarge"},
		{"category asked for", func(r *Requirements) { r.Categories = []string{"t", "g"} }, "g5.xlarge t3.xlarge"},
		{"family asked for", func(r *Requirements) { r.Families = re("^(g5|t3)$") }, "g5.xlarge t3.xlarge"},
		{"category keeps only its own", func(r *Requirements) { r.Categories = []string{"c", "r"} }, "c5.xlarge c6i.2xlarge r5.xlarge"},
		{"arm64", func(r *Requirements) { r.Arch = ARM64 }, "m6g.xlarge m7g.xlarge"},
		{"any arch keeps unknown", func(r *Requirements) { r.Arch, r.Families = ArchUnknown, re("^u") }, "u-6tb1.56xlarge"},
		{"memory range", func(r *Requirements) { r.MemoryGiB = Range{20, 40, true} }, "m5.2xlarge m6i.2xlarge r5.xlarge"},
		{"families", func(r *Requirements) { r.Families = re("^c") }, "c5.xlarge c6i.2xlarge"},
		{"exclude by type name", func(r *Requirements) { r.VCPUs, r.Exclude = Range{4, 4, true}, re(`^(t|m5a?\.)`) }, "c5.xlarge m6a.xlarge m6i.xlarge m7i.xlarge r5.xlarge"},
		{"min generation", func(r *Requirements) { r.MinGeneration = 7 }, "m7i.xlarge"},
		{"gpus", func(r *Requirements) { r.GPUs = Range{0, 0, true}; r.Families = re("^m6") }, "m6a.xlarge m6i.2xlarge m6i.xlarge"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			req := smallReq()
			tt.edit(&req)
			got, _ := matchNames(t, req)
			if strings.Join(got, " ") != tt.want {
				t.Errorf("Match = %s\nwant    %s", strings.Join(got, " "), tt.want)
			}
		})
	}
}

func TestMatchNotesUnknownArch(t *testing.T) {
	_, notes := matchNames(t, smallReq())
	if len(notes) != 1 || !strings.Contains(notes[0], "1 type whose architecture the family-name rule cannot tell left out (u-6tb1.56xlarge)") {
		t.Errorf("notes = %q", notes)
	}
}

func TestMatchNoMatch(t *testing.T) {
	f := smallFeed(t)
	tests := []struct {
		name        string
		edit        func(*Requirements)
		want        string
		nearestHead string
	}{
		{"memory", func(r *Requirements) { r.VCPUs, r.MemoryGiB = Range{4, 4, true}, Range{64, 64, true} },
			"no instance type in us-test-1 (Linux) matches: --memory 64 removed the last 9 candidates", "r5.xlarge"},
		{"vcpus", func(r *Requirements) { r.VCPUs = Range{64, 96, true} }, "--vcpus 64-96 removed the last 12 candidates", "m5.2xlarge"},
		{"gpus unknown from the feed", func(r *Requirements) { r.GPUs = Range{1, 8, true} }, "--gpus 1-8 removed the last 12 candidates; the feed does not give GPU counts: pass --instance-types or --aws", ""},
		{"defaults", func(r *Requirements) {
			r.VCPUs, r.MemoryGiB, r.Exclude = Range{4, 4, true}, Range{16, 16, true}, regexp.MustCompile("^m")
		},
			"the node-group defaults (no bare-metal, burstable, accelerated, storage-optimized, high-memory, HPC or Mac types: pass --metal, --burstable, --gpus, --category or --families to ask for them) removed the last 2 candidates", "g5.xlarge"},
		{"exclude", func(r *Requirements) { r.Families, r.Exclude = regexp.MustCompile("^c"), regexp.MustCompile(".") }, "--exclude . removed the last 2 candidates", "c5.xlarge"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			req := smallReq()
			tt.edit(&req)
			_, err := Match(f, SpecsFromFeed(f), req)
			var nm *NoMatchError
			if !errors.As(err, &nm) || !strings.Contains(err.Error(), tt.want) {
				t.Fatalf("error = %v, want a NoMatchError containing %q", err, tt.want)
			}
			if tt.nearestHead != "" && (len(nm.Nearest) == 0 || nm.Nearest[0].Type != tt.nearestHead) {
				t.Errorf("nearest = %v, want %s first", nm.Nearest, tt.nearestHead)
			}
			if len(nm.Nearest) > maxNearest {
				t.Errorf("%d nearest listed", len(nm.Nearest))
			}
			if !strings.Contains(err.Error(), "; nearest: ") {
				t.Errorf("error names no nearest types: %v", err)
			}
		})
	}
}

func TestMatchBadInput(t *testing.T) {
	f := smallFeed(t)
	tests := []struct {
		name string
		edit func(*Requirements)
		want string
	}{
		{"unknown region", func(r *Requirements) { r.Region = "us-east-9" }, `unknown region "us-east-9": the Spot Advisor feed has eu-test-1, us-test-1`},
		{"no region", func(r *Requirements) { r.Region = "" }, "a region is required"},
		{"count", func(r *Requirements) { r.Count = 41 }, "count 41 is outside 1–40"},
		{"os", func(r *Requirements) { r.OS = "Plan9" }, `OS "Plan9" is not Linux or Windows`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			req := smallReq()
			tt.edit(&req)
			if _, err := Match(f, SpecsFromFeed(f), req); err == nil || !strings.Contains(err.Error(), tt.want) {
				t.Errorf("error = %v, want %q", err, tt.want)
			}
		})
	}
	if _, err := Match(f, Catalog{}, smallReq()); err == nil || !strings.Contains(err.Error(), "are the specs from another region?") {
		t.Errorf("empty catalog error = %v", err)
	}
}
