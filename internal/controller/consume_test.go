package controller

import (
	"strings"
	"testing"
	"time"

	sqstypes "github.com/aws/aws-sdk-go-v2/service/sqs/types"

	"github.com/spot-handler/spot-handler/internal/interrupt"
	"github.com/spot-handler/spot-handler/internal/metrics"
	"github.com/spot-handler/spot-handler/pkg/drain"
)

func TestReceiveCount(t *testing.T) {
	for attr, want := range map[string]int{"1": 1, "3": 3, "": 1, "x": 1, "0": 1} {
		m := sqstypes.Message{Attributes: map[string]string{"ApproximateReceiveCount": attr}}
		if got := receiveCount(m); got != want {
			t.Errorf("count %q = %d, want %d", attr, got, want)
		}
	}
}

// TestRank: a message with several instances reports the outcome that
// keeps it, or else the one that did something.
func TestRank(t *testing.T) {
	order := []string{metrics.QueueIgnored, metrics.QueueAgentDraining, metrics.QueueHandled, metrics.QueueUnknownInstance,
		metrics.QueueUnknownKept, metrics.QueueRecheck, metrics.QueueFailed}
	for i := 1; i < len(order); i++ {
		if rank(order[i]) <= rank(order[i-1]) {
			t.Errorf("%s does not outrank %s", order[i], order[i-1])
		}
	}
}

func TestOnceLog(t *testing.T) {
	var o onceLog
	n := 0
	for range 3 {
		o.log("a", func() { n++ })
		o.log("b", func() { n++ })
	}
	if n != 2 {
		t.Errorf("logged %d times, want once per key", n)
	}
	for i := range maxOnce + 10 {
		o.log(strings.Repeat("k", i+1), func() {})
	}
	if len(o.seen) > maxOnce {
		t.Errorf("remembers %d keys, want at most %d", len(o.seen), maxOnce)
	}
}

func TestValidate(t *testing.T) {
	good := func() Config {
		return Config{QueueURL: "https://sqs.us-east-1.amazonaws.com/1/q", ClusterName: "prod", Policy: drain.DefaultPolicy(), Rebalance: interrupt.TaintOnly,
			Maintenance: interrupt.DrainNode, Workers: 10, LeaderElect: true, LeaseNamespace: "kube-system", LeaseName: "l",
			LeaseDuration: 15 * time.Second, RenewDeadline: 10 * time.Second, RetryPeriod: 2 * time.Second, WaitTime: 20 * time.Second}
	}
	if c := good(); c.Validate() != nil {
		t.Fatalf("good config refused: %v", c.Validate())
	}
	for name, tc := range map[string]struct {
		change func(*Config)
		want   string
	}{
		"no queue":          {func(c *Config) { c.QueueURL = "" }, "--queue-url"},
		"bad rebalance":     {func(c *Config) { c.Rebalance = "evict" }, "--rebalance"},
		"taint maintenance": {func(c *Config) { c.Maintenance = interrupt.TaintOnly }, "--scheduled-maintenance"},
		"no workers":        {func(c *Config) { c.Workers = 0 }, "--workers"},
		"no lease ns":       {func(c *Config) { c.LeaseNamespace = "" }, "--leader-elect-namespace"},
		"renew > lease":     {func(c *Config) { c.RenewDeadline = 20 * time.Second }, "timings"},
		"long wait":         {func(c *Config) { c.WaitTime = time.Minute }, "20s"},
		"no cluster name":   {func(c *Config) { c.ClusterName = "" }, "--cluster-name"},
		"bad cluster name":  {func(c *Config) { c.ClusterName = "a,b" }, "--cluster-name"},
		"empty group name":  {func(c *Config) { c.ASGNames = []string{""} }, "--asg-names"},
	} {
		c := good()
		tc.change(&c)
		if err := c.Validate(); err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("%s: error %v, want one naming %s", name, err, tc.want)
		}
	}
}
