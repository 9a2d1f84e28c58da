package testenv

import (
	"strings"
	"testing"
	"time"
)

// TestHTTPFaultsInFrontOfAEMM: the plain-http fault proxy passes requests
// to AEMM, answers a rule's status in its place while the rule holds, and
// after SetTarget sends them to another AEMM (a notice appearing).
func TestHTTPFaultsInFrontOfAEMM(t *testing.T) {
	if testing.Short() {
		t.Skip("-short: needs amazon-ec2-metadata-mock")
	}
	quiet := StartAEMM(t, "spot", "-d", "100000", "--rebalance-delay-sec", "100000")
	spot := StartAEMM(t, "spot", "-t", time.Now().Add(2*time.Minute).UTC().Format(time.RFC3339), "--rebalance-delay-sec", "100000")
	f, err := NewHTTPFaults(quiet.URL)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	path := f.URL + "/latest/meta-data/spot/instance-action"
	if r, err := httpGet(path); err != nil || r.code != 404 {
		t.Fatalf("through the proxy to the quiet AEMM: %+v %v, want 404", r, err)
	}
	rule := f.Add(Rule{Status: 503})
	if r, err := httpGet(path); err != nil || r.code != 503 {
		t.Fatalf("with a 503 rule: %+v %v, want 503", r, err)
	}
	rule.Release()
	if err := f.SetTarget(spot.URL); err != nil {
		t.Fatal(err)
	}
	if r, err := httpGet(path); err != nil || r.code != 200 || !strings.Contains(r.body, `"action"`) {
		t.Fatalf("after SetTarget to the noticing AEMM: %+v %v, want 200 with the notice", r, err)
	}
	if got := f.Count(Match{Path: "^/latest/meta-data/spot/instance-action$"}); got != 3 {
		t.Errorf("logged %d requests, want 3", got)
	}
	if err := f.SetTarget("not a url"); err == nil {
		t.Error("SetTarget(\"not a url\") accepted")
	}
}
