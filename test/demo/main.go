// Command demo is `make demo`: it rehearses a Spot interruption on a local
// control plane and prints the timeline as it happens. With --queue
// (`make demo-queue`) it shows the controller's queue mode instead (see
// runQueue).
//
// It starts etcd, kube-apiserver, kube-controller-manager, kube-scheduler
// and kwok with four nodes (one a Spot node), deploys a sample workload onto
// the Spot node (Deployments with PodDisruptionBudgets and one pod that asks
// a 600s grace period), starts AWS's metadata simulator (AEMM) serving a
// Spot interruption notice 10s later with the usual 2-minute warning, runs
// `spot-handler agent` for the Spot node and prints each step. It exits 0
// only if the node was empty before the termination time minus the margin,
// and stops every process and removes every temp folder on success, failure
// or Ctrl-C. Everything listens on 127.0.0.1.
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"os"
	"os/signal"
	"path/filepath"
	"syscall"
	"time"

	"github.com/spot-handler/spot-handler/internal/testenv"
	"github.com/spot-handler/spot-handler/internal/timeline"
)

func main() {
	agentBin := flag.String("agent", "bin/spot-handler", "the spot-handler binary to run as the agent (or, with --queue, the controller)")
	delay := flag.Duration("notice-in", 10*time.Second, "when AEMM starts serving the Spot notice")
	keep := flag.Bool("keep", false, "keep the plane running after the verdict, until Ctrl-C (prints the kubeconfig)")
	queue := flag.Bool("queue", false, "queue mode instead: the controller drains two nodes of an Auto Scaling group in moto "+
		"on a Spot interruption warning and a terminate lifecycle action from SQS")
	flag.Parse()
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	var err error
	if *queue {
		err = runQueue(ctx, *agentBin, *keep)
	} else {
		err = run(ctx, *agentBin, *delay, *keep)
	}
	if err != nil {
		fmt.Fprintln(os.Stderr, "demo:", err)
		stop()
		os.Exit(1)
	}
}

// startPlane checks that bin exists and starts the local control plane,
// printing its progress; stop it with stopPlane.
func startPlane(bin string) (*testenv.Plane, error) {
	if _, err := os.Stat(bin); err != nil {
		return nil, fmt.Errorf("spot-handler binary %s: %w (run 'make build' first, or pass --agent)", bin, err)
	}
	fmt.Println("== starting the local control plane (etcd, kube-apiserver, controller-manager, scheduler, kwok)")
	t0 := time.Now()
	plane, err := testenv.StartPlane(testenv.Options{Progress: indent{}})
	if err != nil {
		return nil, err
	}
	fmt.Printf("   ready in %.1fs; kubeconfig %s\n", time.Since(t0).Seconds(), plane.Kubeconfig)
	return plane, nil
}

func stopPlane(p *testenv.Plane) {
	fmt.Println("== stopping the plane")
	p.Stop()
}

func run(ctx context.Context, agentBin string, delay time.Duration, keep bool) error {
	plane, err := startPlane(agentBin)
	if err != nil {
		return err
	}
	defer stopPlane(plane)

	fmt.Println("== creating the Spot node and the sample workload")
	if err := deployWorkload(ctx, plane); err != nil {
		return err
	}
	fmt.Println("== adding three on-demand nodes the pods can move to")
	for i := 1; i <= 3; i++ {
		if _, err := plane.NewNode(ctx, fmt.Sprintf("ondemand-%d", i), map[string]string{"node.kubernetes.io/lifecycle": "on-demand"}); err != nil {
			return err
		}
	}

	appear := time.Now().Add(delay).Truncate(time.Second)
	deadline := appear.Add(2 * time.Minute)
	aemm, err := testenv.StartAEMMProcess("spot", "--imdsv2", "-a", "terminate",
		"--mock-trigger-time", appear.UTC().Format(time.RFC3339), "-t", deadline.UTC().Format(time.RFC3339),
		"--rebalance-delay-sec", "100000")
	if err != nil {
		return err
	}
	defer aemm.Stop()
	fmt.Printf("== AEMM (amazon-ec2-metadata-mock %s) on %s: Spot notice at %s, termination at %s\n",
		testenv.AEMMVersion, aemm.URL, appear.Format("15:04:05"), deadline.Format("15:04:05"))

	agentLog := filepath.Join(plane.Dir, "agent.log")
	stopAgent, err := startAgent(agentBin, plane.Kubeconfig, aemm.URL, agentLog)
	if err != nil {
		return err
	}
	defer stopAgent()
	fmt.Printf("== spot-handler agent running for node %s (log: %s)\n", spotNode, agentLog)
	fmt.Printf("== timeline (+seconds from the notice appearing in instance metadata)\n")

	p := timeline.NewPrinter(os.Stdout, appear)
	followCtx, cancel := context.WithDeadline(ctx, deadline)
	defer cancel()
	go func() {
		select {
		case <-time.After(time.Until(appear)):
			p.Line(appear, "Spot interruption notice appears in instance metadata (terminate at %s)", deadline.Format("15:04:05"))
		case <-followCtx.Done():
		}
	}()
	res, err := timeline.Follow(followCtx, plane.Client, spotNode, p)
	if err != nil && !errors.Is(err, context.DeadlineExceeded) {
		printTail("agent", agentLog, 40)
		return fmt.Errorf("following the drain: %w", err)
	}
	if err := printPlacement(ctx, plane); err != nil {
		return err
	}
	ok := timeline.Verdict(p, res, 15*time.Second)
	return finish(ctx, plane.Kubeconfig, keep, ok, "agent", agentLog, "the node was not empty in time (the agent's log is above)")
}

// finish ends a demo: with keep, it leaves the plane up until ctx ends;
// if the verdict failed, it prints the tail of who's log and returns why.
func finish(ctx context.Context, kubeconfig string, keep, ok bool, who, log, why string) error {
	if keep {
		fmt.Printf("== the plane stays up: KUBECONFIG=%s kubectl get nodes,pods -A; Ctrl-C to stop\n", kubeconfig)
		<-ctx.Done()
	}
	if !ok {
		printTail(who, log, 40)
		return errors.New(why)
	}
	return nil
}

// startAgent runs the agent as a child process, logging to a file, and
// returns a function that stops it.
func startAgent(bin, kubeconfig, imdsURL, logPath string) (func(), error) {
	return startChild("agent", bin, []string{"agent", "--node-name", spotNode, "--kubeconfig", kubeconfig, "--imds-endpoint", imdsURL,
		"--metrics-addr", "127.0.0.1:0", "--probe-addr", "127.0.0.1:0", "--log-format", "console"}, nil, logPath)
}

// indent prefixes the plane's progress lines.
type indent struct{}

func (indent) Write(b []byte) (int, error) {
	fmt.Print("   " + string(b))
	return len(b), nil
}
