package controller

import (
	"strings"
	"testing"

	"go.uber.org/zap"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/tools/cache"

	"github.com/spot-handler/spot-handler/internal/interrupt"
	"github.com/spot-handler/spot-handler/internal/webhook"
	"github.com/spot-handler/spot-handler/internal/webhook/webhooktest"
	"github.com/spot-handler/spot-handler/pkg/imds"
)

// indexed is a Controller whose node index holds nodes.
func indexed(t *testing.T, nodes ...*corev1.Node) *Controller {
	t.Helper()
	inf := cache.NewSharedIndexInformer(&cache.ListWatch{}, &corev1.Node{}, 0, cache.Indexers{})
	for _, n := range nodes {
		if err := inf.GetIndexer().Add(n); err != nil {
			t.Fatal(err)
		}
	}
	return &Controller{inf: inf, log: zap.NewNop()}
}

// TestIdentity: what a webhook learns of a node's instance: the message's
// instance ID, else the providerID's; the zone label, else the
// providerID's zone; the instance-type label.
func TestIdentity(t *testing.T) {
	labelled := &corev1.Node{ObjectMeta: metav1.ObjectMeta{Name: "labelled", Labels: map[string]string{
		corev1.LabelInstanceTypeStable: "m5.large", corev1.LabelTopologyZone: "us-east-1b"}},
		Spec: corev1.NodeSpec{ProviderID: "aws:///us-east-1a/i-0aaa"}}
	bare := &corev1.Node{ObjectMeta: metav1.ObjectMeta{Name: "bare"}, Spec: corev1.NodeSpec{ProviderID: "aws:///eu-west-1c/i-0bbb"}}
	c := indexed(t, labelled, bare)
	for _, tc := range []struct {
		node, instance string
		want           imds.Identity
	}{
		{"labelled", "i-0aaa", imds.Identity{InstanceID: "i-0aaa", InstanceType: "m5.large", AvailabilityZone: "us-east-1b"}},
		{"bare", "", imds.Identity{InstanceID: "i-0bbb", AvailabilityZone: "eu-west-1c"}},
		{"gone", "i-0ccc", imds.Identity{InstanceID: "i-0ccc"}},
	} {
		if got := c.identity(tc.node, tc.instance); got == nil || *got != tc.want {
			t.Errorf("identity(%s, %q) = %+v, want %+v", tc.node, tc.instance, got, tc.want)
		}
	}
}

// TestNotifyDryRun: a dry run posts nothing unless DryRunWebhook, and then
// marks the post dry-run; the node and instance are filled in.
func TestNotifyDryRun(t *testing.T) {
	srv := webhooktest.New(t)
	for _, tc := range []struct {
		name            string
		dryRun, dryHook bool
		want            string // "" = nothing posted
	}{
		{"live", false, false, "notice n1 i-0aaa false"},
		{"dry run", true, false, ""},
		{"dry run with --dry-run-webhook", true, true, "dry-run notice n1 i-0aaa true"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			srv.Reset()
			c := indexed(t)
			c.cfg.DryRun, c.cfg.DryRunWebhook = tc.dryRun, tc.dryHook
			hook, err := webhook.New(webhook.Config{URL: srv.URL, Template: "{{ .Event }} {{ .Node }} {{ .Identity.InstanceID }} {{ .DryRun }}"})
			if err != nil {
				t.Fatal(err)
			}
			c.hook = hook
			n := interrupt.Notice{Kind: interrupt.SpotInterruption, Data: map[string]string{"instance": "i-0aaa"}}
			c.notify("n1", n, webhook.Data{Event: interrupt.HookNotice, Kind: string(n.Kind)})
			hook.Wait()
			if got := strings.Join(srv.Bodies(), "|"); got != tc.want {
				t.Errorf("posted %q, want %q", got, tc.want)
			}
		})
	}
}
