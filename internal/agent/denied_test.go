package agent

import (
	"errors"
	"fmt"
	"testing"

	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/runtime/schema"
)

func TestPolicyDenial(t *testing.T) {
	nodes := schema.GroupResource{Resource: "nodes"}
	vap := errors.New("ValidatingAdmissionPolicy 'sh-node-bound' with binding 'sh-node-bound' denied request: may change only its own node a")
	for _, c := range []struct {
		name string
		err  error
		want denial
		ok   bool
	}{
		{"the policy's 403", apierrors.NewForbidden(nodes, "b", vap), denial{"sh-node-bound", "sh-node-bound", "may change only its own node a"}, true},
		{"wrapped", fmt.Errorf("patching node b: %w", apierrors.NewForbidden(nodes, "b", vap)), denial{"sh-node-bound", "sh-node-bound", "may change only its own node a"}, true},
		{"RBAC's 403", apierrors.NewForbidden(nodes, "b", errors.New(`User "x" cannot patch resource "nodes"`)), denial{}, false},
		{"not a 403", apierrors.NewInvalid(schema.GroupKind{Kind: "Node"}, "b", nil), denial{}, false},
		{"the words without a 403", vap, denial{}, false},
		{"nil", nil, denial{}, false},
	} {
		got, ok := policyDenial(c.err)
		if got != c.want || ok != c.ok {
			t.Errorf("%s: policyDenial = %+v, %v; want %+v, %v", c.name, got, ok, c.want, c.ok)
		}
	}
}
