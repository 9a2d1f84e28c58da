package testenv

import (
	"os"
	"regexp"
	"testing"
)

// TestVersionsMatchToolsScript keeps the versions this package looks for and
// the versions hack/tools.sh builds the same.
func TestVersionsMatchToolsScript(t *testing.T) {
	b, err := os.ReadFile("../../hack/tools.sh")
	if err != nil {
		t.Fatal(err)
	}
	for name, want := range map[string]string{"K8S_VERSION": KubeVersion, "ETCD_VERSION": EtcdVersion,
		"KWOK_VERSION": KwokVersion, "AEMM_VERSION": AEMMVersion, "HELM_VERSION": HelmVersion} {
		m := regexp.MustCompile(`(?m)^` + name + `=(\S+)$`).FindSubmatch(b)
		if m == nil || string(m[1]) != want {
			t.Errorf("hack/tools.sh %s = %q, testenv wants %q", name, m, want)
		}
	}
}

func TestAEMMServes(t *testing.T) {
	a := StartAEMM(t, "spot", "-a", "terminate")
	resp, err := httpGet(a.URL + "/latest/meta-data/spot/instance-action")
	if err != nil {
		t.Fatal(err)
	}
	if resp.code != 200 || !regexp.MustCompile(`"action":\s*"terminate"`).MatchString(resp.body) {
		t.Fatalf("spot/instance-action = %d %s", resp.code, resp.body)
	}
}
