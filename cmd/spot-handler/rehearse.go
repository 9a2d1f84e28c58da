package main

import (
	"context"
	"encoding/json"
	"flag"
	"fmt"
	"strings"
	"time"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"

	"github.com/spot-handler/spot-handler/internal/agent"
	"github.com/spot-handler/spot-handler/internal/flagenv"
	"github.com/spot-handler/spot-handler/internal/timeline"
)

const rehearseHelp = `Rehearse a Spot interruption on one node of a (stage) cluster, without
waiting for AWS. It annotates the node with
  ` + agent.RehearsalAnnotation + `=<termination time>
and the spot-handler agent on that node, if it was started with
--allow-rehearsal (chart value agent.allowRehearsal), treats it as a real
Spot notice: it cordons, taints and drains the node. A real notice always
wins over a rehearsal; rehearsing again updates the one rehearsal (an
earlier time drains to it). This command then follows the drain and prints
its timeline, and exits 0 if the node was empty before the termination time
minus the margin.

Undo with --undo: the annotation is removed and the agent uncordons the node,
also if it was not running when the annotation went.
Needs RBAC to get, watch and patch nodes and to watch pods.`

// runRehearse annotates a node for a rehearsed interruption (or removes the
// annotation with --undo) and prints the drain's timeline.
func runRehearse(ctx context.Context, args []string, io stdio) error {
	fs := flag.NewFlagSet("rehearse", flag.ContinueOnError)
	nodeName := fs.String("node", "", "the node to rehearse an interruption on (required)")
	var src kubeSource
	fs.StringVar(&src.kubeconfig, "kubeconfig", "", kubeconfigHelp)
	fs.StringVar(&src.context, "context", "", "the kubeconfig context to use; empty means its current-context")
	in := fs.Duration("in", 2*time.Minute, "termination time from now; AWS gives a Spot instance 2 minutes")
	margin := fs.Duration("drain-margin", 15*time.Second, "the agent's --drain-margin, for the verdict")
	timeout := fs.Duration("timeout", 0, "stop following after this long; 0 means the termination time plus 30s")
	undo := fs.Bool("undo", false, "remove the rehearsal annotation: the agent uncordons the node")
	fs.Usage = flagenv.Usage(fs, "spot-handler rehearse --node NAME [flags]", rehearseHelp, envPrefix)
	if err := parseFlags(fs, args, io); err != nil {
		return err
	}
	if *nodeName == "" {
		return usagef("spot-handler rehearse: --node is required (kubectl get nodes -l spot=true lists Spot nodes)")
	}
	if *in < 10*time.Second && !*undo {
		return usagef("spot-handler rehearse: --in=%v is shorter than 10s: the agent needs a second to notice and pods need time to go", *in)
	}
	if *timeout < 0 {
		return usagef("spot-handler rehearse: --timeout=%v: use 0 (the termination time plus 30s) or a positive duration", *timeout)
	}
	if *margin < 0 || *margin >= *in && !*undo {
		return usagef("spot-handler rehearse: --drain-margin=%v: use 0s up to under --in (%v), as the agent's --drain-margin", *margin, *in)
	}
	undoCmd := undoCommand(*nodeName, src)
	kube, err := kubeClient(src, 20, 40, agent.DefaultAPITimeout, io.getenv)
	if err != nil {
		return usageError{fmt.Errorf("spot-handler rehearse: %w", err)}
	}
	if *undo {
		patch := fmt.Sprintf(`{"metadata":{"annotations":{%q:null}}}`, agent.RehearsalAnnotation)
		if _, err := kube.CoreV1().Nodes().Patch(ctx, *nodeName, types.MergePatchType, []byte(patch), metav1.PatchOptions{}); err != nil {
			return fmt.Errorf("removing the rehearsal annotation from node %s: %w", *nodeName, err)
		}
		fmt.Fprintf(io.out, "rehearsal annotation removed from node %s: its agent uncordons it\n", *nodeName)
		return nil
	}
	deadline := time.Now().Add(*in).UTC().Truncate(time.Second)
	if *timeout == 0 {
		*timeout = *in + 30*time.Second
	}
	ctx, cancel := context.WithTimeout(ctx, *timeout)
	defer cancel()
	p := timeline.NewPrinter(io.out, time.Now())
	results := make(chan followed, 1)
	// Watch first, then annotate, so nothing is missed.
	go func() {
		res, err := timeline.Follow(ctx, kube, *nodeName, p)
		results <- followed{res, err}
	}()
	time.Sleep(200 * time.Millisecond)
	value, _ := json.Marshal(deadline.Format(time.RFC3339))
	patch := fmt.Sprintf(`{"metadata":{"annotations":{%q:%s}}}`, agent.RehearsalAnnotation, value)
	p.Line(time.Now(), "rehearsal requested on node %s: termination at %s", *nodeName, deadline.Format(time.RFC3339))
	if _, err := kube.CoreV1().Nodes().Patch(ctx, *nodeName, types.MergePatchType, []byte(patch), metav1.PatchOptions{}); err != nil {
		return fmt.Errorf("annotating node %s: %w", *nodeName, err)
	}
	r := <-results
	if r.err != nil && r.res.Notice == nil {
		return fmt.Errorf("no agent acted on the rehearsal (is the agent on %s running with --allow-rehearsal?): %w; the annotation stays: undo with: %s", *nodeName, r.err, undoCmd)
	}
	if !timeline.Verdict(p, r.res, *margin) {
		return fmt.Errorf("rehearsal failed on node %s (undo with: %s)", *nodeName, undoCmd)
	}
	fmt.Fprintf(io.out, "undo with: %s\n", undoCmd)
	return nil
}

// undoCommand is the command that undoes a rehearsal on node, with the
// kubeconfig and context it was made with.
func undoCommand(node string, src kubeSource) string {
	cmd := "spot-handler rehearse --node " + shellQuote(node) + " --undo"
	if src.kubeconfig != "" {
		cmd += " --kubeconfig " + shellQuote(src.kubeconfig)
	}
	if src.context != "" {
		cmd += " --context " + shellQuote(src.context)
	}
	return cmd
}

// shellQuote quotes s for a POSIX shell when it holds anything but
// letters, digits and -._/:=@.
func shellQuote(s string) string {
	if s != "" && strings.Trim(s, "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789-._/:=@") == "" {
		return s
	}
	return "'" + strings.ReplaceAll(s, "'", `'\''`) + "'"
}

type followed struct {
	res timeline.Result
	err error
}
