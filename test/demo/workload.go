package main

import (
	"context"
	"fmt"
	"sort"
	"strings"
	"time"

	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	policyv1 "k8s.io/api/policy/v1"
	schedulingv1 "k8s.io/api/scheduling/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/util/intstr"

	"github.com/spot-handler/spot-handler/internal/testenv"
	"github.com/spot-handler/spot-handler/pkg/drain"
)

const (
	spotNode = "spot-1"
	demoNS   = "shop"
)

// app is one sample Deployment.
type app struct {
	name     string
	replicas int32
	grace    int64
	delay    time.Duration       // kwok's delete delay (at least this long to go)
	pdb      *intstr.IntOrString // maxUnavailable of its PDB; nil for none
}

// shopApps is the IMDS demo's workload.
var shopApps = []app{
	{"web", 6, 30, 0, ptr(intstr.FromInt32(1))},
	{"api", 4, 30, 0, ptr(intstr.FromString("50%"))},
	{"checkout", 2, 30, 0, nil},
	// Asks 600s; kwok ends it at a random moment (at least 20s) within the
	// grace it gets, which the agent caps to what the notice leaves.
	{"ledger", 1, 600, 20 * time.Second, nil},
	// The order of eviction: batch pods leave first (a low PriorityClass),
	// the log shipper last (no PriorityClass; its drain-order annotation
	// puts it with the node-critical pods), after the others are gone.
	{"batch", 3, 30, 5 * time.Second, nil},
	{"logs", 1, 10, 3 * time.Second, nil},
}

// shopPods sets what orders the shop's pods' eviction, by app.
var shopPods = map[string]func(*corev1.PodTemplateSpec){
	"batch": func(t *corev1.PodTemplateSpec) { t.Spec.PriorityClassName = batchPriority },
	"logs":  func(t *corev1.PodTemplateSpec) { t.Annotations[drain.OrderAnnotation] = "2000001000" },
}

// batchPriority is the demo's PriorityClass for batch pods (value −100).
const batchPriority = "demo-batch"

// deployWorkload creates the Spot node and, while it is the only node, the
// sample Deployments, so every pod starts on it.
func deployWorkload(ctx context.Context, p *testenv.Plane) error {
	if _, err := p.NewNode(ctx, spotNode, map[string]string{"spot": "true", "karpenter.sh/capacity-type": "spot"}); err != nil {
		return err
	}
	pc := &schedulingv1.PriorityClass{ObjectMeta: metav1.ObjectMeta{Name: batchPriority}, Value: -100}
	if _, err := p.Client.SchedulingV1().PriorityClasses().Create(ctx, pc, metav1.CreateOptions{}); err != nil {
		return fmt.Errorf("creating PriorityClass %s: %w", batchPriority, err)
	}
	return deployApps(ctx, p, shopApps, spotNode)
}

// deployApps creates demoNS and the apps' Deployments (and PDBs) and waits
// until their pods run; where names the nodes they run on, for the output.
func deployApps(ctx context.Context, p *testenv.Plane, apps []app, where string) error {
	ns := demoNS
	if err := p.CreateNamespace(ctx, ns); err != nil {
		return err
	}
	for _, d := range apps {
		labels := map[string]string{"app": d.name}
		r := d.replicas
		tpl := testenv.PodTemplate(labels, nil, d.grace, d.delay)
		if tweak := shopPods[d.name]; tweak != nil {
			tweak(&tpl)
		}
		dep := &appsv1.Deployment{ObjectMeta: metav1.ObjectMeta{Name: d.name, Namespace: ns},
			Spec: appsv1.DeploymentSpec{Replicas: &r, Selector: &metav1.LabelSelector{MatchLabels: labels},
				Template: tpl}}
		if _, err := p.Client.AppsV1().Deployments(ns).Create(ctx, dep, metav1.CreateOptions{}); err != nil {
			return fmt.Errorf("creating deployment %s: %w", d.name, err)
		}
		if d.pdb != nil {
			pdb := &policyv1.PodDisruptionBudget{ObjectMeta: metav1.ObjectMeta{Name: d.name, Namespace: ns},
				Spec: policyv1.PodDisruptionBudgetSpec{MaxUnavailable: d.pdb, Selector: &metav1.LabelSelector{MatchLabels: labels}}}
			if _, err := p.Client.PolicyV1().PodDisruptionBudgets(ns).Create(ctx, pdb, metav1.CreateOptions{}); err != nil {
				return fmt.Errorf("creating PDB %s: %w", d.name, err)
			}
		}
		if err := p.WaitPods(ctx, ns, "app="+d.name, int(d.replicas), 90*time.Second); err != nil {
			return err
		}
		pdb := "no PDB"
		if d.pdb != nil {
			pdb = "PDB maxUnavailable " + d.pdb.String()
		}
		fmt.Printf("   deployment %s/%s: %d pods on %s, grace %ds, %s\n", ns, d.name, d.replicas, where, d.grace, pdb)
	}
	return nil
}

// printPlacement shows where the workload runs now.
func printPlacement(ctx context.Context, p *testenv.Plane) error {
	pods, err := p.Client.CoreV1().Pods(demoNS).List(ctx, metav1.ListOptions{})
	if err != nil {
		return err
	}
	byNode := map[string]int{}
	for _, pod := range pods.Items {
		if pod.DeletionTimestamp == nil {
			n := pod.Spec.NodeName
			if n == "" {
				n = "(pending)"
			}
			byNode[n]++
		}
	}
	var parts []string
	for n, c := range byNode {
		parts = append(parts, fmt.Sprintf("%s=%d", n, c))
	}
	sort.Strings(parts)
	fmt.Printf("== workload now: %s\n", strings.Join(parts, " "))
	return nil
}

func ptr[T any](v T) *T { return &v }
