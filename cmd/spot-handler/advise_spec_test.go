package main

import (
	"encoding/json"
	"os"
	"path/filepath"
	"regexp"
	"sort"
	"strings"
	"testing"
)

// The "Done when" of issue 15, checked through the command line on the real
// feed snapshot. The prices the checks use are worked out here from the
// shared files themselves (On-Demand list price × (1 − feed savings)), and
// which types are burstable, storage-optimized, bare metal or accelerated is read from
// Karpenter's table, so the test does not trust the code it checks.

// sharedDataDir is the real data folder ($SPOT_HANDLER_SHARED_DATA or
// ../../../shared/data); the tests skip only when it is absent.
func sharedDataDir(t *testing.T) string {
	t.Helper()
	dir := os.Getenv("SPOT_HANDLER_SHARED_DATA")
	if dir == "" {
		dir = filepath.Join("..", "..", "..", "shared", "data")
	}
	if _, err := os.Stat(dir); err != nil {
		t.Skipf("real data folder %s is absent (set SPOT_HANDLER_SHARED_DATA): %v", dir, err)
	}
	return dir
}

// specWorld is what the checks know independently of the advisor.
type specWorld struct {
	feedPath string
	feed     struct {
		InstanceTypes map[string]struct {
			Cores int     `json:"cores"`
			RAMGB float64 `json:"ram_gb"`
		} `json:"instance_types"`
		Advisor map[string]map[string]map[string]struct {
			S int `json:"s"`
			R int `json:"r"`
		} `json:"spot_advisor"`
	}
	onDemand  map[string]float64
	karpenter map[string]struct {
		Arch     string `json:"arch"`
		Category string `json:"category"`
		Size     string `json:"size"`
		GPUCount int    `json:"gpu_count"`
	}
}

func loadSpecWorld(t *testing.T) *specWorld {
	t.Helper()
	dir := sharedDataDir(t)
	w := &specWorld{feedPath: filepath.Join(dir, "spot-advisor-data.json")}
	if err := json.Unmarshal(mustReadFile(t, w.feedPath), &w.feed); err != nil {
		t.Fatal(err)
	}
	var od struct{ Regions map[string]map[string]float64 }
	if err := json.Unmarshal(mustReadFile(t, filepath.Join(dir, "ondemand-prices-us-east-1.json")), &od); err != nil {
		t.Fatal(err)
	}
	w.onDemand = od.Regions["us-east-1"]
	if err := json.Unmarshal(mustReadFile(t, filepath.Join(dir, "karpenter-instance-types.json")), &w.karpenter); err != nil {
		t.Fatal(err)
	}
	return w
}

// storageDense and burstable are the families node groups avoid by default.
var (
	storageDense = regexp.MustCompile(`^(d\d|h1)`)
	burstable    = regexp.MustCompile(`^t\d`)
)

// eligible reports whether typ is a plain amd64 node-group type: not
// accelerated, burstable, storage-optimized, high-memory, HPC or bare metal.
func (w *specWorld) eligible(typ string) bool {
	k, ok := w.karpenter[typ]
	if !ok || k.Arch != "amd64" || k.GPUCount > 0 || strings.HasPrefix(k.Size, "metal") {
		return false
	}
	switch k.Category {
	case "t", "d", "h", "i", "im", "is", "u", "x", "hpc", "mac", "f", "vt", "g", "gr", "p", "inf", "trn", "dl":
		return false
	}
	return true
}

// estPrice is the estimated Spot price of typ in region, from the shared
// files alone; false when the list price is unknown.
func (w *specWorld) estPrice(region, typ string) (float64, bool) {
	od, ok := w.onDemand[typ]
	if !ok {
		return 0, false
	}
	return od * (1 - float64(w.feed.Advisor[region]["Linux"][typ].S)/100), true
}

// adviseJSON runs advise with --output json on the real feed and returns the
// chosen types.
func adviseJSON(t *testing.T, args ...string) []string {
	t.Helper()
	code, out, errOut := runAdviseTest(t, adviseDeps{}, nil, append([]string{"--output", "json"}, args...)...)
	if code != 0 {
		t.Fatalf("advise %v: exit %d: %s", args, code, errOut)
	}
	var doc struct {
		Set []struct{ Type string } `json:"set"`
	}
	if err := json.Unmarshal([]byte(out), &doc); err != nil {
		t.Fatalf("advise %v: output is not JSON: %v\n%s", args, err, out)
	}
	var types []string
	for _, c := range doc.Set {
		types = append(types, c.Type)
	}
	return types
}

func TestAdviseRealFeedNodeGroupDefaults(t *testing.T) {
	w := loadSpecWorld(t)
	for _, region := range []string{"eu-west-1", "us-east-1"} {
		for _, shape := range []struct{ vcpus, mem string }{{"4", "16"}, {"8", "32"}} {
			t.Run(region+" "+shape.vcpus+"x"+shape.mem, func(t *testing.T) {
				base := []string{"--data", w.feedPath, "--region", region, "--vcpus", shape.vcpus, "--memory", shape.mem, "--arch", "amd64"}
				set := adviseJSON(t, base...)
				if len(set) == 0 {
					t.Fatal("empty set")
				}
				worst, sum := 0, 0.0
				for _, typ := range set {
					fam, _, _ := strings.Cut(typ, ".")
					if burstable.MatchString(fam) || storageDense.MatchString(fam) {
						t.Errorf("%s chosen by default", typ)
					}
					p, ok := w.estPrice(region, typ)
					if !ok {
						t.Errorf("%s has no list price", typ)
					}
					sum += p
					worst = max(worst, w.feed.Advisor[region]["Linux"][typ].R)
				}
				mean := sum / float64(len(set))
				// The same number of cheapest plain types of that shape at the
				// set's worst bucket or better.
				var cheap []float64
				for typ, a := range w.feed.Advisor[region]["Linux"] {
					s := w.feed.InstanceTypes[typ]
					if a.R > worst || !w.eligible(typ) || itoa(s.Cores) != shape.vcpus || ftoa(s.RAMGB) != shape.mem {
						continue
					}
					if p, ok := w.estPrice(region, typ); ok {
						cheap = append(cheap, p)
					}
				}
				sort.Float64s(cheap)
				if len(cheap) > len(set) {
					cheap = cheap[:len(set)]
				}
				base2 := 0.0
				for _, p := range cheap {
					base2 += p
				}
				baseline := base2 / float64(len(cheap))
				if mean > 1.2*baseline {
					t.Errorf("set %v: mean estimated price %.4f is more than 20%% above %.4f, the mean of the %d cheapest at bucket ≤ %d", set, mean, baseline, len(cheap), worst)
				}
				t.Logf("set %v: mean %.4f USD/h, cheapest-%d baseline %.4f (worst bucket %d)", set, mean, len(cheap), baseline, worst)

				withT := adviseJSON(t, append(base, "--burstable")...)
				if !anyMatch(withT, burstable) {
					t.Errorf("--burstable: no burstable type in %v", withT)
				}
				withD := adviseJSON(t, append(base, "--families", "d3en")...)
				if len(withD) != 1 || !strings.HasPrefix(withD[0], "d3en.") {
					t.Errorf("--families d3en: set %v, want the d3en type", withD)
				}
			})
		}
	}
}

func anyMatch(types []string, re *regexp.Regexp) bool {
	for _, typ := range types {
		if fam, _, _ := strings.Cut(typ, "."); re.MatchString(fam) {
			return true
		}
	}
	return false
}

func itoa(i int) string {
	b, _ := json.Marshal(i)
	return string(b)
}

func ftoa(f float64) string {
	b, _ := json.Marshal(f)
	return string(b)
}
