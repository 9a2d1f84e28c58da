package testenv

import (
	"context"
	"encoding/json"
	"fmt"
	"sync"

	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/resource"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"
)

// A real node's object is mostly status: a kubelet reports every image on
// the node (often 50 or more, each with a digest and a tag name), five
// conditions with messages, addresses, capacity and system info. kwok's
// nodes carry little of it, so a footprint measured on them would flatter
// any controller that keeps nodes in full. RealisticStatus is such a
// status; FatNode is a node that carries it without kwok (an object only:
// no lease, no heartbeat, so thousands fit on a small machine).

// RealisticStatus returns a node status with images images (two long
// names each) and the kubelet's five conditions, Ready true.
func RealisticStatus(images int) corev1.NodeStatus {
	capacity := corev1.ResourceList{corev1.ResourcePods: resource.MustParse("110"),
		corev1.ResourceCPU: resource.MustParse("8"), corev1.ResourceMemory: resource.MustParse("32Gi"),
		corev1.ResourceEphemeralStorage: resource.MustParse("100Gi")}
	s := corev1.NodeStatus{Capacity: capacity, Allocatable: capacity,
		Addresses: []corev1.NodeAddress{{Type: corev1.NodeInternalIP, Address: "10.0.12.34"},
			{Type: corev1.NodeInternalDNS, Address: "ip-10-0-12-34.ec2.internal"}, {Type: corev1.NodeHostName, Address: "ip-10-0-12-34.ec2.internal"}},
		NodeInfo: corev1.NodeSystemInfo{MachineID: "ec2a1b2c3d4e5f60718293a4b5c6d7e8", SystemUUID: "ec2a1b2c-3d4e-5f60-7182-93a4b5c6d7e8",
			BootID: "0f1e2d3c-4b5a-6978-8796-a5b4c3d2e1f0", KernelVersion: "6.1.102-111.182.amzn2023.x86_64",
			OSImage: "Amazon Linux 2023.5.20240819", ContainerRuntimeVersion: "containerd://1.7.20", KubeletVersion: "v1.37.0",
			OperatingSystem: "linux", Architecture: "amd64"}}
	for _, c := range []struct {
		typ            corev1.NodeConditionType
		reason, status string
	}{{"MemoryPressure", "KubeletHasSufficientMemory", "False"}, {"DiskPressure", "KubeletHasNoDiskPressure", "False"},
		{"PIDPressure", "KubeletHasSufficientPID", "False"}, {"Ready", "KubeletReady", "True"},
		{"NetworkUnavailable", "RouteCreated", "False"}} {
		s.Conditions = append(s.Conditions, corev1.NodeCondition{Type: c.typ, Status: corev1.ConditionStatus(c.status), Reason: c.reason,
			Message:           "kubelet reports " + c.reason + "; container runtime status check may not have completed yet",
			LastHeartbeatTime: metav1.Now(), LastTransitionTime: metav1.Now()})
	}
	for i := range images {
		repo := fmt.Sprintf("123456789012.dkr.ecr.us-east-1.amazonaws.com/platform-team/workload-service-number-%03d", i)
		s.Images = append(s.Images, corev1.ContainerImage{SizeBytes: int64(50+i) << 20,
			Names: []string{fmt.Sprintf("%s@sha256:%064x", repo, i*7919+1), fmt.Sprintf("%s:v1.%d.0-build%06d", repo, i, i*31)}})
	}
	return s
}

// FatNode returns a node named name with providerID and
// RealisticStatus(images), labelled as a kubelet on EC2 labels it.
func FatNode(name, providerID string, images int) *corev1.Node {
	return &corev1.Node{ObjectMeta: metav1.ObjectMeta{Name: name,
		Labels: map[string]string{"kubernetes.io/hostname": name, "kubernetes.io/os": "linux", "kubernetes.io/arch": "amd64",
			"node.kubernetes.io/instance-type": "m5.2xlarge", "topology.kubernetes.io/zone": "us-east-1a",
			"topology.kubernetes.io/region": "us-east-1", "eks.amazonaws.com/capacityType": "SPOT",
			"eks.amazonaws.com/nodegroup": "spot-workers"},
		Annotations: map[string]string{"node.alpha.kubernetes.io/ttl": "0", "volumes.kubernetes.io/controller-managed-attach-detach": "true",
			"alpha.kubernetes.io/provided-node-ip": "10.0.12.34"}},
		Spec:   corev1.NodeSpec{ProviderID: providerID, PodCIDR: "10.244.0.0/24", PodCIDRs: []string{"10.244.0.0/24"}},
		Status: RealisticStatus(images)}
}

// CreateNodes creates nodes (objects only, made with FatNode or like it),
// parallel at a time, and writes each one's status through the status
// subresource, as a kubelet does.
func (p *Plane) CreateNodes(ctx context.Context, nodes []*corev1.Node, parallel int) error {
	work := make(chan *corev1.Node)
	errs := make(chan error, len(nodes))
	var wg sync.WaitGroup
	for range max(parallel, 1) {
		wg.Go(func() {
			for n := range work {
				got, err := p.Client.CoreV1().Nodes().Create(ctx, n, metav1.CreateOptions{})
				if err == nil && len(got.Status.Images) < len(n.Status.Images) {
					got.Status = n.Status
					_, err = p.Client.CoreV1().Nodes().UpdateStatus(ctx, got, metav1.UpdateOptions{})
				}
				if err != nil {
					errs <- fmt.Errorf("creating node %s: %w", n.Name, err)
				}
			}
		})
	}
	for _, n := range nodes {
		work <- n
	}
	close(work)
	wg.Wait()
	close(errs)
	return <-errs // nil when none failed
}

// PadStatus adds RealisticStatus(images)'s images, addresses and system
// info to a kwok node's status (kwok keeps its own conditions).
func (p *Plane) PadStatus(ctx context.Context, name string, images int) error {
	s := RealisticStatus(images)
	patch, err := json.Marshal(map[string]any{"status": map[string]any{"images": s.Images, "nodeInfo": s.NodeInfo}})
	if err != nil {
		return err
	}
	if _, err := p.Client.CoreV1().Nodes().Patch(ctx, name, types.StrategicMergePatchType, patch, metav1.PatchOptions{}, "status"); err != nil {
		return fmt.Errorf("padding the status of node %s: %w", name, err)
	}
	return nil
}
