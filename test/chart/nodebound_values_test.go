package chart_test

import (
	"slices"
	"strings"
	"testing"

	appsv1 "k8s.io/api/apps/v1"
)

// TestExtraArgsNeverRepeatAFlag: an entry of agent.extraArgs or
// controller.extraArgs naming a flag the chart passes (--flag=v, -flag=v or
// --flag followed by its value) fails the render with a line naming the
// flag and the chart value to set instead: the last flag wins, so with
// --exclude-lb-label the agent would write a label the node-bound policy
// refuses. A flag the chart never passes still renders.
func TestExtraArgsNeverRepeatAFlag(t *testing.T) {
	paths := valuePaths(t)
	for _, c := range everyFlag(t) {
		c.where = c.name + ".extraArgs"
		for flag := range c.flags {
			t.Run(c.name+"/"+flag, func(t *testing.T) {
				msg := renderErr(t, append(slices.Clone(c.base), c.where+"[0]=--"+flag+"=x")...)
				if msg == "" {
					t.Fatalf("%s with --%s=x renders: it would override the chart's --%s", c.where, flag, flag)
				}
				if flag == "leader-elect" && strings.Contains(msg, "always passes --leader-elect") {
					return // no value: leader election is always on
				}
				m := setInsteadRe.FindStringSubmatch(msg)
				if !strings.Contains(msg, c.where) || !strings.Contains(msg, "--"+flag) || m == nil {
					t.Fatalf("%s with --%s=x: message does not name the value, the flag and the value to set instead:\n%s", c.where, flag, msg)
				}
				if !slices.Contains(paths, m[1]) {
					t.Errorf("%s with --%s=x: the message names %s, which is not a value of values.yaml", c.where, flag, m[1])
				}
			})
		}
		t.Run(c.name+"/other spellings", func(t *testing.T) {
			for _, set := range [][]string{{c.where + "[0]=-exclude-lb-label=x"}, {c.where + "[0]=--exclude-lb-label", c.where + "[1]=x"}} {
				if msg := renderErr(t, append(slices.Clone(c.base), set...)...); !strings.Contains(msg, "set "+c.name+".excludeLBLabel instead") {
					t.Errorf("%v: want a failure saying to set %s.excludeLBLabel, got %q", set, c.name, msg)
				}
			}
		})
		t.Run(c.name+"/unpassed flag", func(t *testing.T) {
			if msg := renderErr(t, append(slices.Clone(c.base), c.where+"[0]=--kubeconfig=/k")...); msg != "" {
				t.Errorf("--kubeconfig (no flag passed) is refused: %s", msg)
			}
		})
	}
}

// TestNodeBoundPolicyNotSharedWithController: with the policy on in mode
// both, an agent and a controller on one ServiceAccount (both `default`, or
// one name set on both) fail the render, saying why (the policy would bind
// the controller to one node); distinct accounts, or no policy, render.
// NOTES warns when the agent runs as `default`.
func TestNodeBoundPolicyNotSharedWithController(t *testing.T) {
	both := []string{"mode=both", "controller.queueURL=" + testQueueURL, testCluster}
	for _, c := range []struct {
		name string
		sets []string
		fail bool
	}{
		{"both default", []string{"serviceAccount.create=false", "controller.serviceAccount.create=false"}, true},
		{"one name on both", []string{"serviceAccount.name=spot", "controller.serviceAccount.name=spot"}, true},
		{"distinct", nil, false},
		{"shared without the policy", []string{"serviceAccount.create=false", "controller.serviceAccount.create=false", "agent.nodeBoundPolicy=false"}, false},
	} {
		msg := renderErr(t, append(slices.Clone(both), c.sets...)...)
		if !c.fail && msg != "" {
			t.Errorf("%s: %s", c.name, msg)
		}
		if c.fail && (!strings.Contains(msg, "controller.serviceAccount") || !strings.Contains(msg, "to one node")) {
			t.Errorf("%s: want a failure naming controller.serviceAccount and why (the controller bound to one node), got %q", c.name, msg)
		}
	}
	const warn = "WARNING: the agent runs as ServiceAccount ops/default"
	if notes := renderNotes(t, kubeVersion, "serviceAccount.create=false"); !strings.Contains(notes, warn) {
		t.Errorf("NOTES.txt with the agent on default lacks %q:\n%s", warn, notes)
	}
	if notes := renderNotes(t, kubeVersion); strings.Contains(notes, warn) {
		t.Errorf("NOTES.txt warns of default with the chart's own ServiceAccount:\n%s", notes)
	}
}

// flagRender is a render of the agent's or the controller's command line.
type flagRender struct {
	name       string   // agent or controller
	base       []string // the values that make the chart pass every flag it can
	flags      map[string]string
	env, where string // the value a test sets (extraEnv, extraArgs)
}

// everyFlag renders the agent's and the controller's command lines with
// every flag the chart can pass.
func everyFlag(t *testing.T) []flagRender {
	t.Helper()
	out := []flagRender{
		{name: "agent", base: append(webhookExtras("webhook"), "webhook.template=x", "agent.imdsEndpoint=http://127.0.0.1:1338")},
		{name: "controller", base: append(webhookExtras("controller.webhook"), "mode=controller", "controller.queueURL="+testQueueURL, testCluster,
			"controller.region=eu-west-1", "controller.endpointURL=https://vpce.example", "controller.asgNames={blue,green}",
			"controller.webhook.template=x")},
	}
	for i, c := range out {
		objs := render(t, "spot", nil, c.base...)
		var args []string
		if c.name == "agent" {
			args = fromUnstructured[appsv1.DaemonSet](t, one(t, objs, "DaemonSet")).Spec.Template.Spec.Containers[0].Args[1:]
		} else {
			args = fromUnstructured[appsv1.Deployment](t, one(t, objs, "Deployment")).Spec.Template.Spec.Containers[0].Args[1:]
		}
		out[i].flags = flagArgs(t, args)
		if len(out[i].flags) < 15 {
			t.Fatalf("%s: only %d flags rendered", c.name, len(out[i].flags))
		}
	}
	return out
}

// TestExtraArgsNeverNameAnotherNode: agent.extraArgs naming --node-name
// (either spelling) fails the render. The agent drains the node it is
// told; the chart tells it its own from the downward API, and a refused
// cordon of another node no longer stops a drain (the agent drains an
// unmarked node), so the render is where another node must be kept out.
func TestExtraArgsNeverNameAnotherNode(t *testing.T) {
	for _, set := range [][]string{{"agent.extraArgs[0]=--node-name=ip-10-0-0-9"},
		{"agent.extraArgs[0]=--node-name", "agent.extraArgs[1]=ip-10-0-0-9"}} {
		if msg := renderErr(t, set...); !strings.Contains(msg, "--node-name") || !strings.Contains(msg, "downward API") {
			t.Errorf("%v: want a failure naming --node-name and the downward API, got %q", set, msg)
		}
	}
}
