package controller

import (
	"context"
	"fmt"
	"reflect"
	"testing"

	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/resource"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"
)

// fatNode is a node as a kubelet leaves it: managed fields, 50 images,
// five conditions, addresses, capacity, kubelet annotations and labels,
// plus the records the controller and the agent write.
func fatNode(name string) *corev1.Node {
	n := &corev1.Node{
		TypeMeta: metav1.TypeMeta{Kind: "Node", APIVersion: "v1"},
		ObjectMeta: metav1.ObjectMeta{Name: name, UID: types.UID(name + "-uid"), ResourceVersion: "42",
			Labels: map[string]string{corev1.LabelInstanceTypeStable: "m5.large", corev1.LabelTopologyZone: "us-east-1a",
				corev1.LabelHostname: name, corev1.LabelOSStable: "linux", "eks.amazonaws.com/nodegroup": "spot"},
			Annotations: map[string]string{"node.alpha.kubernetes.io/ttl": "0", "volumes.kubernetes.io/controller-managed-attach-detach": "true",
				"spot-handler.io/notice": `{"held":[]}`, "spot-handler.io/lifecycle-action": `{"token":"t"}`,
				"spot-handler.io/maintenance-wait": `[]`},
			ManagedFields: []metav1.ManagedFieldsEntry{{Manager: "kubelet", Operation: metav1.ManagedFieldsOperationUpdate,
				FieldsType: "FieldsV1", FieldsV1: &metav1.FieldsV1{Raw: []byte(`{"f:status":{"f:images":{}}}`)}}}},
		Spec: corev1.NodeSpec{ProviderID: "aws:///us-east-1a/i-0123456789abcdef0", Unschedulable: true, PodCIDR: "10.0.0.0/24",
			Taints: []corev1.Taint{{Key: "spot-handler.io/interruption", Effect: corev1.TaintEffectNoSchedule}}},
		Status: corev1.NodeStatus{
			Capacity:  corev1.ResourceList{corev1.ResourceCPU: resource.MustParse("2")},
			Addresses: []corev1.NodeAddress{{Type: corev1.NodeInternalIP, Address: "10.0.0.1"}},
			NodeInfo:  corev1.NodeSystemInfo{KubeletVersion: "v1.37.0"},
		},
	}
	for _, c := range []corev1.NodeConditionType{corev1.NodeMemoryPressure, corev1.NodeDiskPressure, corev1.NodePIDPressure, corev1.NodeReady} {
		n.Status.Conditions = append(n.Status.Conditions, corev1.NodeCondition{Type: c, Status: corev1.ConditionFalse,
			Reason: "KubeletHasSufficient", Message: "kubelet has sufficient resources"})
	}
	n.Status.Conditions[3].Status = corev1.ConditionTrue
	for i := range 50 {
		n.Status.Images = append(n.Status.Images, corev1.ContainerImage{SizeBytes: 1 << 26,
			Names: []string{fmt.Sprintf("123456789012.dkr.ecr.us-east-1.amazonaws.com/team/service-%02d@sha256:%064d", i, i)}})
	}
	return n
}

// slimOf is what the node index must keep of fatNode(name).
func slimOf(name string) *corev1.Node {
	return &corev1.Node{
		TypeMeta: metav1.TypeMeta{Kind: "Node", APIVersion: "v1"},
		ObjectMeta: metav1.ObjectMeta{Name: name, UID: types.UID(name + "-uid"), ResourceVersion: "42",
			Labels: map[string]string{corev1.LabelInstanceTypeStable: "m5.large", corev1.LabelTopologyZone: "us-east-1a"},
			Annotations: map[string]string{"spot-handler.io/notice": `{"held":[]}`, "spot-handler.io/lifecycle-action": `{"token":"t"}`,
				"spot-handler.io/maintenance-wait": `[]`}},
		Spec: corev1.NodeSpec{ProviderID: "aws:///us-east-1a/i-0123456789abcdef0", Unschedulable: true,
			Taints: []corev1.Taint{{Key: "spot-handler.io/interruption", Effect: corev1.TaintEffectNoSchedule}}},
		Status: corev1.NodeStatus{Conditions: []corev1.NodeCondition{{Type: corev1.NodeReady, Status: corev1.ConditionTrue}}},
	}
}

func TestSlimNode(t *testing.T) {
	bare := &corev1.Node{ObjectMeta: metav1.ObjectMeta{Name: "bare", ResourceVersion: "1"}}
	deleting := &corev1.Node{ObjectMeta: metav1.ObjectMeta{Name: "gone", DeletionTimestamp: &metav1.Time{}}}
	for _, tc := range []struct {
		name    string
		in, out any
	}{
		{"a kubelet's node keeps what the controller reads", fatNode("n1"), slimOf("n1")},
		{"a bare node stays bare (no empty maps)", bare, bare},
		{"a node being deleted says so", deleting, deleting},
		{"not a node: unchanged", "tombstone", "tombstone"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got, err := slimNode(tc.in)
			if err != nil {
				t.Fatal(err)
			}
			if !reflect.DeepEqual(got, tc.out) {
				t.Errorf("slimNode:\n got %+v\nwant %+v", got, tc.out)
			}
			again, _ := slimNode(got)
			if !reflect.DeepEqual(again, got) {
				t.Errorf("slimNode is not idempotent:\n once  %+v\n twice %+v", got, again)
			}
		})
	}
}

// TestNodeIndexIsSlim: the controller's node index holds slim nodes, and
// the controller still finds a node by its instance and reads its records
// from the index.
func TestNodeIndexIsSlim(t *testing.T) {
	r := newGCRig(t, false)
	if _, err := r.kube.CoreV1().Nodes().Create(context.Background(), fatNode("fat"), metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	r.waitIndex("fat", true)
	obj, _, _ := r.c.inf.GetIndexer().GetByKey("fat")
	n := obj.(*corev1.Node)
	if len(n.Status.Images) > 0 || len(n.ManagedFields) > 0 || len(n.Status.Conditions) != 1 || n.Annotations["node.alpha.kubernetes.io/ttl"] != "" {
		t.Errorf("the index holds the node in full: %d images, %d managed fields, %d conditions, annotations %v",
			len(n.Status.Images), len(n.ManagedFields), len(n.Status.Conditions), n.Annotations)
	}
	if got := r.c.nodes.fromIndex("i-0123456789abcdef0"); got == nil || got.Name != "fat" {
		t.Errorf("instance i-0123456789abcdef0 maps to %v, want node fat", got)
	}
	if r.c.recordedWaits("fat") != "[]" || r.c.nodeUID("fat") != "fat-uid" {
		t.Errorf("records read from the index: waits %q, UID %q", r.c.recordedWaits("fat"), r.c.nodeUID("fat"))
	}
}
