package bench

import (
	"context"
	"errors"
	"fmt"
	"os"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/spot-handler/spot-handler/internal/testenv"
)

const (
	// fleetLabel marks the nodes of BenchmarkAgentsAtScale; fleetApp names
	// its ReplicaSets and labels their pods (app=fleetApp).
	fleetLabel = "spot-handler.test/agents-at-scale"
	fleetApp   = "atscale"
	// setupParallel bounds the nodes made at once (most of a node's set-up
	// is waiting for kwok to run its pods), startParallel the AEMM and
	// agent pairs started at once.
	setupParallel, startParallel = 16, 8
	// pairMiB is what one AEMM and one agent may take at most (measured:
	// an AEMM 11 MiB RSS, 3 MiB of it private; an agent 12 MiB private at
	// rest, 25 MiB at the peak of a 500-pod drain; the binaries' pages are
	// shared), reserveMiB what is left to the plane and the machine.
	pairMiB, reserveMiB = 48, 4096
)

// fitAgents returns want, or fewer if this machine's available memory
// does not hold want pairs, and why.
func fitAgents(b *testing.B, want int) (int, string) {
	b.Helper()
	raw, err := os.ReadFile("/proc/meminfo")
	if err != nil {
		b.Fatal(err)
	}
	for _, line := range strings.Split(string(raw), "\n") {
		if f := strings.Fields(line); len(f) == 3 && f[0] == "MemAvailable:" {
			kb, _ := strconv.Atoi(f[1])
			fit := (kb/1024 - reserveMiB) / pairMiB
			if fit < want {
				return max(fit, 1), fmt.Sprintf("only %d of %d fit the %d MiB available (%d MiB a pair, %d MiB kept)", fit, want, kb/1024, pairMiB, reserveMiB)
			}
			return want, ""
		}
	}
	return want, "MemAvailable not in /proc/meminfo: not checked"
}

// makeFleetNodes makes n kwok Spot nodes (labelled fleetLabel), each with
// a ReplicaSet of pods pods pinned to it (grace, kwok delete delay) in a
// namespace of its own, setupParallel at once; they and their namespaces
// are removed when b ends.
func makeFleetNodes(b *testing.B, n int, pods int32, grace int64, delay time.Duration) []string {
	b.Helper()
	names := make([]string, n)
	for i := range names {
		names[i] = nodeName("atscale")
	}
	b.Cleanup(func() { removeFleetNodes(b, names) })
	errs := make([]error, n)
	inParallel(n, setupParallel, func(i int) {
		ctx, node := context.Background(), names[i]
		if _, errs[i] = plane.NewNode(ctx, node, map[string]string{"spot": "true", fleetLabel: "true"}); errs[i] != nil {
			return
		}
		if errs[i] = plane.CreateNamespace(ctx, "bench-"+node); errs[i] != nil {
			return
		}
		errs[i] = plane.PinnedReplicaSet(ctx, "bench-"+node, fleetApp, node, pods, grace, delay)
	})
	if err := errors.Join(errs...); err != nil {
		b.Fatal(err)
	}
	return names
}

// removeFleetNodes deletes the nodes' namespaces (their ReplicaSets and
// the replacement pods left Pending), waits up to 2 minutes for them to
// go, then deletes the nodes, so the benchmarks after this one run
// without them.
func removeFleetNodes(b *testing.B, nodes []string) {
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	defer cancel()
	each := func(f func(node string) error) {
		inParallel(len(nodes), setupParallel, func(i int) {
			if err := f(nodes[i]); err != nil && !apierrors.IsNotFound(err) {
				b.Logf("removing node %s: %v", nodes[i], err)
			}
		})
	}
	each(func(node string) error {
		return plane.Client.CoreV1().Namespaces().Delete(ctx, "bench-"+node, metav1.DeleteOptions{})
	})
	deadline := time.Now().Add(2 * time.Minute)
	each(func(node string) error {
		for time.Now().Before(deadline) {
			if _, err := plane.Client.CoreV1().Namespaces().Get(ctx, "bench-"+node, metav1.GetOptions{}); apierrors.IsNotFound(err) {
				return nil
			}
			time.Sleep(time.Second)
		}
		return errors.New("its namespace was still there after 2 minutes")
	})
	each(func(node string) error {
		return plane.Client.CoreV1().Nodes().Delete(ctx, node, metav1.DeleteOptions{})
	})
}

// member is one node of the fleet with its IMDS (an AEMM) and its agent.
type member struct {
	node  string
	aemm  *testenv.AEMM
	agent *testenv.AgentProc
}

// startFleet starts, for each node, an AEMM serving a Spot notice at `at`
// (termination at deadline) and the agent against it, startParallel pairs
// at once, all stopped when b ends. A pair that does not start is logged
// and left out: the fleet is the pairs that ran.
func startFleet(b *testing.B, nodes []string, at, deadline time.Time) []member {
	b.Helper()
	pairs := make([]member, len(nodes))
	var mu sync.Mutex
	b.Cleanup(func() {
		mu.Lock()
		defer mu.Unlock()
		var wg sync.WaitGroup
		for _, m := range pairs {
			wg.Go(func() {
				if m.agent != nil {
					m.agent.Kill()
				}
				if m.aemm != nil {
					m.aemm.Stop()
				}
			})
		}
		wg.Wait()
	})
	errs := make([]error, len(nodes))
	inParallel(len(nodes), startParallel, func(i int) {
		m, err := startPair(nodes[i], at, deadline)
		mu.Lock()
		pairs[i], errs[i] = m, err
		mu.Unlock()
	})
	var ran []member
	for i, m := range pairs {
		if errs[i] != nil {
			b.Logf("node %s left out: %v", nodes[i], errs[i])
			continue
		}
		ran = append(ran, m)
	}
	return ran
}

// startPair starts node's AEMM and then its agent (twice at most: the
// agent's free ports can be taken before it binds them).
func startPair(node string, at, deadline time.Time) (member, error) {
	m := member{node: node}
	var err error
	if m.aemm, err = testenv.StartAEMMProcess(noticeArgs(at, deadline)...); err != nil {
		return m, fmt.Errorf("its AEMM did not start: %w", err)
	}
	for range 2 {
		if m.agent, err = testenv.StartAgent(agentBinary(), plane.Kubeconfig, node, m.aemm.URL); err == nil {
			return m, nil
		}
	}
	return m, fmt.Errorf("its agent did not start: %w", err)
}

// fleetSample is the agents' counters at one moment.
type fleetSample struct {
	cpu  float64    // CPU seconds of every agent so far
	reqs []counters // each agent's spot_handler_kube_api_requests_total
}

// total is every agent's requests by label set.
func (s fleetSample) total() counters {
	t := counters{}
	for _, r := range s.reqs {
		t.add(r)
	}
	return t
}

// sampleFleet reads the agents' CPU and then their request counters
// (cpuFirst), or the counters first: a window's CPU then leaves out the
// scrapes that bound it.
func sampleFleet(b *testing.B, ms []member, cpuFirst bool) fleetSample {
	b.Helper()
	s := fleetSample{reqs: make([]counters, len(ms))}
	readCPUs := func() {
		for _, m := range ms {
			c, err := readCPU(m.agent.PID())
			if err != nil {
				b.Fatalf("the agent for %s is gone (%v); its log:\n%s", m.node, m.agent.ExitErr(), tail(m.agent.Logs(), 20))
			}
			s.cpu += c
		}
	}
	if cpuFirst {
		readCPUs()
	}
	errs := make([]error, len(ms))
	inParallel(len(ms), 16, func(i int) {
		s.reqs[i], errs[i] = scrapeSamples(context.Background(), ms[i].agent.MetricsURL, "spot_handler_kube_api_requests_total")
	})
	if err := errors.Join(errs...); err != nil {
		b.Fatalf("scraping the agents: %v", err)
	}
	if !cpuFirst {
		readCPUs()
	}
	return s
}

// sumAgents scrapes metric name from every agent and sums it by label set.
func sumAgents(b *testing.B, ms []member, name string) counters {
	b.Helper()
	each, errs := make([]counters, len(ms)), make([]error, len(ms))
	inParallel(len(ms), 16, func(i int) {
		each[i], errs[i] = scrapeSamples(context.Background(), ms[i].agent.MetricsURL, name)
	})
	if err := errors.Join(errs...); err != nil {
		b.Fatalf("scraping the agents: %v", err)
	}
	t := counters{}
	for _, c := range each {
		t.add(c)
	}
	return t
}

// memory is the agents' average RSS and anonymous RSS and their summed
// proportional set size, in MiB.
func memory(b *testing.B, ms []member) (rssAvg, anonAvg, pssSum float64) {
	b.Helper()
	for _, m := range ms {
		st, err := readStatus(m.agent.PID())
		if err != nil {
			b.Fatal(err)
		}
		pss, err := readPSS(m.agent.PID())
		if err != nil {
			b.Fatal(err)
		}
		rssAvg, anonAvg, pssSum = rssAvg+st["VmRSS"], anonAvg+st["RssAnon"], pssSum+pss
	}
	n := float64(len(ms)) * 1024
	return rssAvg / n, anonAvg / n, pssSum / 1024
}

// planeCPU returns the CPU seconds so far of each of the plane's processes.
func planeCPU(b *testing.B) map[string]float64 {
	b.Helper()
	out := map[string]float64{}
	for name, pid := range plane.PIDs() {
		c, err := readCPU(pid)
		if err != nil {
			b.Fatalf("reading the CPU time of %s: %v", name, err)
		}
		out[name] = c
	}
	return out
}

// inParallel calls f(0) … f(n-1), at most limit at once, and returns when
// all have returned.
func inParallel(n, limit int, f func(i int)) {
	sem := make(chan struct{}, limit)
	var wg sync.WaitGroup
	for i := range n {
		wg.Go(func() {
			sem <- struct{}{}
			defer func() { <-sem }()
			f(i)
		})
	}
	wg.Wait()
}
