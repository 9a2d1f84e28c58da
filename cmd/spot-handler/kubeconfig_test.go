package main

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"k8s.io/client-go/tools/clientcmd"
	clientcmdapi "k8s.io/client-go/tools/clientcmd/api"
)

// TestKubeconfigLikeKubectl: the client's configuration is found as kubectl
// finds it — --kubeconfig, else the KUBECONFIG list merged, else
// ~/.kube/config — and --context picks a context; each row runs
// `rehearse --undo` (one node patch) against the real plane.
func TestKubeconfigLikeKubectl(t *testing.T) {
	p := mustPlane(t)
	mustNode(t, p, "kubeconfig-n1")
	real, err := clientcmd.LoadFromFile(p.Kubeconfig)
	if err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	write := func(name string, kc *clientcmdapi.Config) string {
		t.Helper()
		path := filepath.Join(dir, name)
		if err := clientcmd.WriteToFile(*kc, path); err != nil {
			t.Fatal(err)
		}
		return path
	}
	// a.yaml: the contexts, current "broken" (a server nobody listens on);
	// b.yaml: the plane's cluster and user. Neither works alone.
	a := clientcmdapi.NewConfig()
	a.Clusters["nowhere"] = &clientcmdapi.Cluster{Server: "https://127.0.0.1:1"}
	a.Contexts["broken"] = &clientcmdapi.Context{Cluster: "nowhere", AuthInfo: "admin"}
	a.Contexts["plane"] = &clientcmdapi.Context{Cluster: "local", AuthInfo: "admin"}
	a.CurrentContext = "broken"
	b := clientcmdapi.NewConfig()
	b.Clusters["local"] = real.Clusters["local"]
	b.AuthInfos["admin"] = real.AuthInfos["admin"]
	aPath, bPath := write("a.yaml", a), write("b.yaml", b)
	home := filepath.Join(dir, "home")
	if err := os.MkdirAll(filepath.Join(home, ".kube"), 0o700); err != nil {
		t.Fatal(err)
	}
	real.CurrentContext = "local"
	if err := clientcmd.WriteToFile(*real, filepath.Join(home, ".kube", "config")); err != nil {
		t.Fatal(err)
	}
	empty := t.TempDir()
	undo := []string{"rehearse", "--node", "kubeconfig-n1", "--undo"}
	with := func(more ...string) []string { return append(append([]string{}, undo...), more...) }
	tests := []struct {
		name string
		args []string
		env  map[string]string
		code int
		want string
	}{
		{"KUBECONFIG list merged, --context picks", with("--context", "plane"), map[string]string{"KUBECONFIG": aPath + ":" + bPath, "HOME": empty}, 0, "rehearsal annotation removed"},
		{"KUBECONFIG list, its current context", undo, map[string]string{"KUBECONFIG": aPath + ":" + bPath, "HOME": empty}, 1, "127.0.0.1:1"},
		{"unknown --context", with("--context", "nope"), map[string]string{"KUBECONFIG": aPath + ":" + bPath, "HOME": empty}, 2, `--context nope`},
		{"~/.kube/config", undo, map[string]string{"HOME": home}, 0, "rehearsal annotation removed"},
		{"KUBECONFIG before ~/.kube/config", undo, map[string]string{"KUBECONFIG": aPath, "HOME": home}, 1, "127.0.0.1:1"},
		{"--kubeconfig before KUBECONFIG", with("--kubeconfig", p.Kubeconfig), map[string]string{"KUBECONFIG": aPath, "HOME": home}, 0, "rehearsal annotation removed"},
		{"none anywhere", undo, map[string]string{"HOME": empty}, 2, "no kubeconfig and not in a cluster"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			code, out, errOut := runMain(t, tt.env, tt.args...)
			if code != tt.code || !strings.Contains(out+errOut, tt.want) {
				t.Fatalf("exit %d, stdout %q, stderr %q; want exit %d and %q", code, out, errOut, tt.code, tt.want)
			}
		})
	}
}

// TestRehearseUndoHintWhenNoAgent: a rehearsal no agent answered leaves its
// annotation, so the error says the exact command that removes it.
func TestRehearseUndoHintWhenNoAgent(t *testing.T) {
	p := mustPlane(t)
	mustNode(t, p, "rehearse-noagent")
	code, _, errOut := runMain(t, nil, "rehearse", "--node", "rehearse-noagent", "--kubeconfig", p.Kubeconfig, "--in", "20s", "--timeout", "2s")
	want := "undo with: spot-handler rehearse --node rehearse-noagent --undo --kubeconfig " + p.Kubeconfig
	if code != 1 || !strings.Contains(errOut, "no agent acted") || !strings.Contains(errOut, want) {
		t.Fatalf("exit %d, stderr %q; want 1 and %q", code, errOut, want)
	}
}
