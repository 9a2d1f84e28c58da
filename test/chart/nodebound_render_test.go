package chart_test

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
)

// TestNodeBoundPolicyRendered: agent.nodeBoundPolicy auto renders the
// policy and its binding on Kubernetes 1.32 or newer only (older pod-bound
// tokens carry no node claim), true and false force it, mode controller
// has no agent to bind; the policy matches the agent's ServiceAccount only
// and lets it write the exclude label it is configured with; NOTES says
// when it is not rendered and why.
func TestNodeBoundPolicyRendered(t *testing.T) {
	for _, c := range []struct {
		name, kube string
		sets       []string
		want       bool
		notes      string // what NOTES.txt says about it
	}{
		{"auto on 1.37", kubeVersion, nil, true, "ValidatingAdmissionPolicy\n" + policyName},
		{"auto on 1.32", "1.32.0", nil, true, "ValidatingAdmissionPolicy\n" + policyName},
		{"auto on 1.31", "1.31.4", nil, false, "No node-bound policy (the cluster runs Kubernetes v1.31.4: a pod-bound token carries the node claims from 1.32 on (agent.nodeBoundPolicy is auto))"},
		{"true on 1.31", "1.31.4", []string{"agent.nodeBoundPolicy=true"}, true, "ValidatingAdmissionPolicy\n" + policyName},
		{"false on 1.37", kubeVersion, []string{"agent.nodeBoundPolicy=false"}, false, "No node-bound policy (agent.nodeBoundPolicy is false)."},
		{"mode controller", kubeVersion, []string{"mode=controller", "controller.queueURL=https://sqs.us-east-1.amazonaws.com/1/q", "clusterName=c"}, false, ""},
	} {
		t.Run(c.name, func(t *testing.T) {
			out, err := runHelm(t, append(kubeTemplateArgs(t, c.kube), setArgs(c.sets)...)...)
			if err != nil {
				t.Fatal(err)
			}
			objs, err := decodeManifests(out)
			if err != nil {
				t.Fatal(err)
			}
			var got []*unstructured.Unstructured
			for _, o := range objs {
				if isPolicy(o) {
					got = append(got, o)
				}
			}
			if c.want != (len(got) == 2) || (!c.want && len(got) != 0) {
				t.Fatalf("rendered %d of the policy and its binding, want them: %v", len(got), c.want)
			}
			if notes := renderNotes(t, c.kube, c.sets...); !strings.Contains(notes, c.notes) {
				t.Errorf("NOTES.txt lacks %q:\n%s", c.notes, notes)
			}
		})
	}

	// The default label stays allowed beside a custom one: during an
	// upgrade that sets agent.excludeLBLabel, the old agents still write it.
	t.Run("matched to the agent's ServiceAccount, with its exclude label", func(t *testing.T) {
		def := "'" + corev1.LabelNodeExcludeBalancers + "'"
		for _, c := range []struct {
			sets        []string
			user, label string
		}{
			{nil, "spot-handler", "[" + def + "]"},
			{[]string{"serviceAccount.create=false", "serviceAccount.name=node-agent", "agent.excludeLBLabel="}, "node-agent", "[" + def + "]"},
			{[]string{"agent.excludeLBLabel=example.com/no-lb"}, "spot-handler", "[" + def + ", 'example.com/no-lb']"},
		} {
			sets := c.sets
			vap := one(t, render(t, "ops", nil, sets...), "ValidatingAdmissionPolicy")
			user, label := "system:serviceaccount:ops:"+c.user, c.label
			conds, _, _ := unstructured.NestedSlice(vap.Object, "spec", "matchConditions")
			if len(conds) != 1 || conds[0].(map[string]any)["expression"] != "request.userInfo.username == '"+user+"'" {
				t.Errorf("%v: matchConditions %v, want the one user %s", sets, conds, user)
			}
			if fp, _, _ := unstructured.NestedString(vap.Object, "spec", "failurePolicy"); fp != "Fail" {
				t.Errorf("%v: failurePolicy %q, want Fail", sets, fp)
			}
			vars, _, _ := unstructured.NestedSlice(vap.Object, "spec", "variables")
			found := false
			for _, v := range vars {
				m := v.(map[string]any)
				found = found || (m["name"] == "ownLabels" && m["expression"] == label)
			}
			if !found {
				t.Errorf("%v: variable ownLabels is not %s: %v", sets, label, vars)
			}
		}
	})
}

// kubeTemplateArgs are helm template's arguments for the defaults on a
// cluster of Kubernetes version kube.
func kubeTemplateArgs(t *testing.T, kube string) []string {
	return []string{"template", release, chartDir(t), "--namespace", "ops", "--kube-version", kube}
}

func setArgs(sets []string) []string {
	var out []string
	for _, s := range sets {
		out = append(out, "--set", s)
	}
	return out
}

// renderNotes renders the chart's NOTES.txt as helm install prints it on a
// cluster of Kubernetes version kube (helm template does not render it):
// on a copy of the chart where NOTES.txt is a named template that a
// ConfigMap includes.
func renderNotes(t *testing.T, kube string, sets ...string) string {
	t.Helper()
	dir := filepath.Join(t.TempDir(), "spot-handler")
	if err := os.CopyFS(dir, os.DirFS(chartDir(t))); err != nil {
		t.Fatal(err)
	}
	notes, err := os.ReadFile(filepath.Join(dir, "templates", "NOTES.txt"))
	if err != nil {
		t.Fatal(err)
	}
	if err := os.Remove(filepath.Join(dir, "templates", "NOTES.txt")); err != nil {
		t.Fatal(err)
	}
	files := map[string]string{
		"_notes.tpl": `{{- define "test.notes" -}}` + string(notes) + `{{- end -}}`,
		"notes.yaml": "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: notes\ndata:\n  notes: {{ include \"test.notes\" . | quote }}\n",
	}
	for name, s := range files {
		if err := os.WriteFile(filepath.Join(dir, "templates", name), []byte(s), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	args := []string{"template", release, dir, "--namespace", "ops", "--kube-version", kube, "--show-only", "templates/notes.yaml"}
	out, err := runHelm(t, append(args, setArgs(sets)...)...)
	if err != nil {
		t.Fatal(err)
	}
	objs, err := decodeManifests(out)
	if err != nil || len(objs) != 1 {
		t.Fatalf("the NOTES ConfigMap: %v\n%s", err, out)
	}
	s, _, _ := unstructured.NestedString(objs[0].Object, "data", "notes")
	return s
}
