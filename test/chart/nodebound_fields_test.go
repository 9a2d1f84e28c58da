package chart_test

import (
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"

	corev1 "k8s.io/api/core/v1"
)

// TestNodeBoundPolicyCoversNodeSpec: the node-bound policy keeps every
// field of a Node's spec but unschedulable and taints as it was, so each
// json field of corev1.NodeSpec (k8s.io/api as go.mod pins it) must be
// compared old to new in the template: a field the API gains fails this
// test until the policy covers it.
func TestNodeBoundPolicyCoversNodeSpec(t *testing.T) {
	b, err := os.ReadFile(filepath.Join(chartDir(t), "templates", "node-bound-policy.yaml"))
	if err != nil {
		t.Fatal(err)
	}
	text := string(b)
	typ := reflect.TypeFor[corev1.NodeSpec]()
	if typ.NumField() < 8 {
		t.Fatalf("corev1.NodeSpec has only %d fields", typ.NumField())
	}
	for f := range typ.Fields() {
		name, _, _ := strings.Cut(f.Tag.Get("json"), ",")
		if name == "" || name == "-" {
			t.Fatalf("NodeSpec.%s has no json name", f.Name)
		}
		if name == "unschedulable" || name == "taints" { // the agent's to write
			continue
		}
		if want := "object.spec.?" + name + " == oldObject.spec.?" + name; !strings.Contains(text, want) {
			t.Errorf("the node-bound policy does not keep spec.%s (NodeSpec.%s): no %q", name, f.Name, want)
		}
	}
}
