package chart_test

import (
	"reflect"
	"slices"
	"strings"
	"testing"

	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	policyv1 "k8s.io/api/policy/v1"
	rbacv1 "k8s.io/api/rbac/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
)

// testQueueURL is the queue the controller-mode renders receive.
const testQueueURL = "https://sqs.us-east-1.amazonaws.com/123456789012/spot-handler-test"

// testCluster is the clusterName of the controller-mode renders.
const testCluster = "clusterName=test-cluster"

// renderMode renders the chart in mode with the test queue and sets.
func renderMode(t *testing.T, mode string, sets ...string) []*unstructured.Unstructured {
	t.Helper()
	return render(t, "spot", nil, append([]string{"mode=" + mode, "controller.queueURL=" + testQueueURL, testCluster}, sets...)...)
}

// notFromControllerValues are the controller's flags the chart does not set
// from a value, and why.
var notFromControllerValues = map[string]string{
	"kubeconfig":             "the controller runs with its in-cluster config",
	"context":                "the in-cluster config has no contexts",
	"leader-elect-namespace": "POD_NAMESPACE comes from the downward API",
	"leader-elect-identity":  "POD_NAME comes from the downward API",
	"webhook-url":            "the URL is read from the mounted Secret (--webhook-url-file), never put in the pod spec",
}

// TestModes: which objects each mode renders, and that the agent's and the
// controller's pods never match each other's selectors.
func TestModes(t *testing.T) {
	agentKinds := []string{"ClusterRole", "ClusterRoleBinding", "DaemonSet", "ServiceAccount", "ValidatingAdmissionPolicy", "ValidatingAdmissionPolicyBinding"}
	controllerKinds := []string{"ClusterRole", "ClusterRoleBinding", "Deployment", "FlowSchema", "PodDisruptionBudget", "PriorityLevelConfiguration", "Role", "RoleBinding", "ServiceAccount"}
	for mode, want := range map[string][]string{
		"daemonset":  agentKinds,
		"controller": controllerKinds,
		"both":       append(slices.Clone(agentKinds), controllerKinds...),
	} {
		t.Run(mode, func(t *testing.T) {
			slices.Sort(want)
			if got := kinds(renderMode(t, mode)); !reflect.DeepEqual(got, want) {
				t.Errorf("mode %s renders %v, want %v", mode, got, want)
			}
		})
	}
	objs := renderMode(t, "both")
	ds := fromUnstructured[appsv1.DaemonSet](t, one(t, objs, "DaemonSet"))
	dep := fromUnstructured[appsv1.Deployment](t, one(t, objs, "Deployment"))
	if matches(ds.Spec.Selector.MatchLabels, dep.Spec.Template.Labels) || matches(dep.Spec.Selector.MatchLabels, ds.Spec.Template.Labels) {
		t.Errorf("selectors overlap: DaemonSet %v, Deployment %v", ds.Spec.Selector.MatchLabels, dep.Spec.Selector.MatchLabels)
	}
	var monitored []string
	for _, pm := range find(render(t, "spot", nil, "mode=both", "controller.queueURL="+testQueueURL, testCluster, "metrics.podMonitor.enabled=true"), "PodMonitor") {
		sel, _, _ := unstructured.NestedStringMap(pm.Object, "spec", "selector", "matchLabels")
		monitored = append(monitored, sel["app.kubernetes.io/name"])
	}
	slices.Sort(monitored)
	if !slices.Equal(monitored, []string{"spot-handler", "spot-handler-controller"}) {
		t.Errorf("PodMonitors select %v, want the agent's and the controller's pods", monitored)
	}
	if ds.Spec.Template.Spec.ServiceAccountName == dep.Spec.Template.Spec.ServiceAccountName {
		t.Errorf("agent and controller share ServiceAccount %s: the agent would get the controller's AWS role", ds.Spec.Template.Spec.ServiceAccountName)
	}
}

// matches reports whether labels satisfy the selector's labels.
func matches(selector, labels map[string]string) bool {
	for k, v := range selector {
		if labels[k] != v {
			return false
		}
	}
	return true
}

// TestControllerDeployment checks the controller's pod: replicas, leader
// election on its own Lease, priority, off-Spot scheduling, anti-affinity,
// the agent's hardening, no hostNetwork, and its PodDisruptionBudget.
func TestControllerDeployment(t *testing.T) {
	objs := renderMode(t, "controller")
	dep := fromUnstructured[appsv1.Deployment](t, one(t, objs, "Deployment"))
	spec := dep.Spec.Template.Spec
	if dep.Spec.Replicas == nil || *dep.Spec.Replicas != 2 {
		t.Errorf("replicas %v, want 2", dep.Spec.Replicas)
	}
	args := flagArgs(t, spec.Containers[0].Args[1:])
	if spec.Containers[0].Args[0] != "controller" || args["queue-url"] != testQueueURL || args["leader-elect"] != "true" ||
		args["leader-elect-name"] != "spot-handler-controller" {
		t.Errorf("args %v: want controller, the queue, leader election on Lease spot-handler-controller", spec.Containers[0].Args)
	}
	var env []string
	for _, e := range spec.Containers[0].Env {
		if e.ValueFrom != nil && e.ValueFrom.FieldRef != nil {
			env = append(env, e.Name+"="+e.ValueFrom.FieldRef.FieldPath)
		}
	}
	if !slices.Contains(env, "POD_NAME=metadata.name") || !slices.Contains(env, "POD_NAMESPACE=metadata.namespace") {
		t.Errorf("downward API env %v: want POD_NAME and POD_NAMESPACE (Lease namespace and identity)", env)
	}
	if spec.PriorityClassName != "system-cluster-critical" || spec.HostNetwork || len(spec.Tolerations) != 0 {
		t.Errorf("priority %q, hostNetwork %v, tolerations %v: want system-cluster-critical, no hostNetwork, none", spec.PriorityClassName, spec.HostNetwork, spec.Tolerations)
	}
	checkOffSpot(t, spec.Affinity)
	anti := spec.Affinity.PodAntiAffinity
	if anti == nil || len(anti.PreferredDuringSchedulingIgnoredDuringExecution) != 1 ||
		anti.PreferredDuringSchedulingIgnoredDuringExecution[0].PodAffinityTerm.TopologyKey != "kubernetes.io/hostname" ||
		!reflect.DeepEqual(anti.PreferredDuringSchedulingIgnoredDuringExecution[0].PodAffinityTerm.LabelSelector.MatchLabels, dep.Spec.Selector.MatchLabels) {
		t.Errorf("pod anti-affinity %+v: want one replica per node, preferred", anti)
	}
	sc := spec.Containers[0].SecurityContext
	if sc == nil || sc.ReadOnlyRootFilesystem == nil || !*sc.ReadOnlyRootFilesystem || sc.AllowPrivilegeEscalation == nil || *sc.AllowPrivilegeEscalation ||
		sc.Capabilities == nil || !reflect.DeepEqual(sc.Capabilities.Drop, []corev1.Capability{"ALL"}) ||
		spec.SecurityContext == nil || spec.SecurityContext.RunAsNonRoot == nil || !*spec.SecurityContext.RunAsNonRoot {
		t.Errorf("controller pod not hardened like the agent: %+v / %+v", spec.SecurityContext, sc)
	}
	pdb := fromUnstructured[policyv1.PodDisruptionBudget](t, one(t, objs, "PodDisruptionBudget"))
	if pdb.Spec.MinAvailable == nil || pdb.Spec.MinAvailable.IntValue() != 1 || !reflect.DeepEqual(pdb.Spec.Selector.MatchLabels, dep.Spec.Selector.MatchLabels) {
		t.Errorf("PDB %+v: want minAvailable 1 over the controller's pods", pdb.Spec)
	}

	// Spot-only clusters (or users who know better) can place it themselves.
	own := fromUnstructured[appsv1.Deployment](t, one(t, renderMode(t, "controller", "controller.avoidSpotNodes=false"), "Deployment"))
	if own.Spec.Template.Spec.Affinity.NodeAffinity != nil {
		t.Errorf("controller.avoidSpotNodes=false still sets a node affinity")
	}
}

// checkOffSpot: one required term whose NotIn expressions exclude every
// entry of the default spotNodeLabels.
func checkOffSpot(t *testing.T, a *corev1.Affinity) {
	t.Helper()
	if a == nil || a.NodeAffinity == nil || a.NodeAffinity.RequiredDuringSchedulingIgnoredDuringExecution == nil {
		t.Fatalf("affinity %+v: no required node affinity keeping the controller off Spot nodes", a)
	}
	terms := a.NodeAffinity.RequiredDuringSchedulingIgnoredDuringExecution.NodeSelectorTerms
	want := []corev1.NodeSelectorRequirement{
		{Key: "spot", Operator: corev1.NodeSelectorOpNotIn, Values: []string{"true"}},
		{Key: "eks.amazonaws.com/capacityType", Operator: corev1.NodeSelectorOpNotIn, Values: []string{"SPOT"}},
		{Key: "karpenter.sh/capacity-type", Operator: corev1.NodeSelectorOpNotIn, Values: []string{"spot"}},
	}
	if len(terms) != 1 || !reflect.DeepEqual(terms[0].MatchExpressions, want) {
		t.Errorf("node selector terms %+v, want one term of %+v (ANDed: none of the Spot labels)", terms, want)
	}
}

// TestControllerRBAC: the controller's ClusterRole grants exactly the
// agent's drain rules (so a drain verb added for the agent is noticed here),
// its Role only Leases in the release namespace, and both are bound to the
// controller's own ServiceAccount, which carries the IRSA role.
func TestControllerRBAC(t *testing.T) {
	agent := fromUnstructured[rbacv1.ClusterRole](t, one(t, renderMode(t, "daemonset"), "ClusterRole"))
	objs := renderMode(t, "controller", "controller.serviceAccount.roleArn=arn:aws:iam::123456789012:role/spot-handler")
	cr := fromUnstructured[rbacv1.ClusterRole](t, one(t, objs, "ClusterRole"))
	if !reflect.DeepEqual(cr.Rules, agent.Rules) {
		t.Errorf("controller ClusterRole rules\n%+v\nwant the agent's drain rules\n%+v", cr.Rules, agent.Rules)
	}
	role := fromUnstructured[rbacv1.Role](t, one(t, objs, "Role"))
	wantRole := []rbacv1.PolicyRule{{APIGroups: []string{"coordination.k8s.io"}, Resources: []string{"leases"}, Verbs: []string{"get", "create", "update"}}}
	if role.Namespace != "spot" || !reflect.DeepEqual(role.Rules, wantRole) {
		t.Errorf("Role %s/%s rules %+v, want %+v in the release namespace", role.Namespace, role.Name, role.Rules, wantRole)
	}
	sa := one(t, objs, "ServiceAccount")
	if got := sa.GetAnnotations()["eks.amazonaws.com/role-arn"]; got != "arn:aws:iam::123456789012:role/spot-handler" {
		t.Errorf("ServiceAccount annotation eks.amazonaws.com/role-arn = %q", got)
	}
	dep := fromUnstructured[appsv1.Deployment](t, one(t, objs, "Deployment"))
	crb := fromUnstructured[rbacv1.ClusterRoleBinding](t, one(t, objs, "ClusterRoleBinding"))
	rb := fromUnstructured[rbacv1.RoleBinding](t, one(t, objs, "RoleBinding"))
	for _, subj := range [][]rbacv1.Subject{crb.Subjects, rb.Subjects} {
		if len(subj) != 1 || subj[0].Name != sa.GetName() || subj[0].Namespace != "spot" || dep.Spec.Template.Spec.ServiceAccountName != sa.GetName() {
			t.Errorf("binding subjects %+v: want the controller's ServiceAccount %s", subj, sa.GetName())
		}
	}
	if len(renderMode(t, "controller", "rbac.create=false", "controller.serviceAccount.create=false", "controller.flowControl.enabled=false")) != 2 {
		t.Error("rbac.create=false, controller.serviceAccount.create=false and controller.flowControl.enabled=false should leave the Deployment and its PDB only")
	}
}

// TestControllerValuesMapOntoFlags keeps the chart and `spot-handler
// controller --help` one to one, as TestValuesMapOntoAgentFlags does for the
// agent: every flag passed exists, every flag is set by a value or listed in
// notFromControllerValues, and the defaults are the controller's.
func TestControllerValuesMapOntoFlags(t *testing.T) {
	args := func(sets ...string) map[string]string {
		dep := fromUnstructured[appsv1.Deployment](t, one(t, renderMode(t, "controller", sets...), "Deployment"))
		return flagArgs(t, dep.Spec.Template.Spec.Containers[0].Args[1:])
	}
	all := args("controller.region=eu-west-1", "controller.endpointURL=https://vpce.example", "controller.asgNames={blue,green}",
		"controller.webhook.secretName=hook", "controller.webhook.template=x", "controller.webhook.headers[0].name=X-Team",
		"controller.webhook.headers[0].value=sre", "controller.webhook.headersSecretName=hook-headers", "controller.webhook.proxy=http://proxy:3128")
	checkValuesMapOntoFlags(t, "controller", helpFlags(t, "controller"), all, args(), notFromControllerValues,
		"queue-url", "cluster-name", "leader-elect-name") // the test's queue and cluster; the Lease named for the release
}

// TestLintControllerModes: helm lint --strict in modes controller and both,
// with every optional feature on.
func TestLintControllerModes(t *testing.T) {
	for _, mode := range []string{"controller", "both"} {
		t.Run(mode, func(t *testing.T) {
			out, err := runHelm(t, "lint", "--strict", chartDir(t), "--kube-version", kubeVersion, "--values", allFeatures(t)[0],
				"--set", "mode="+mode, "--set", "controller.queueURL="+testQueueURL, "--set", testCluster)
			if err != nil || !strings.Contains(out, "0 chart(s) failed") {
				t.Fatalf("helm lint: %v\n%s", err, out)
			}
		})
	}
}

// TestControllerValuesRejected: what the schema and the template refuse.
func TestControllerValuesRejected(t *testing.T) {
	for _, tc := range []struct {
		sets []string
		want string
	}{
		{[]string{"mode=sideways"}, "'daemonset', 'controller', 'both'"},
		{[]string{"mode=controller"}, "needs controller.queueURL"},
		{[]string{"mode=both"}, "needs controller.queueURL"},
		{[]string{"mode=controller", "controller.queueURL=" + testQueueURL}, "needs clusterName"},
		{[]string{"mode=both", "controller.queueURL=" + testQueueURL}, "needs clusterName"},
		{[]string{"clusterName=a/b"}, "/clusterName"},
		{[]string{"controller.asgNames={a,}"}, "/controller/asgNames"},
		{[]string{"controller.serviceAccount.roleArn=role/x"}, "/controller/serviceAccount/roleArn"},
		{[]string{"controller.replicas=0"}, "/controller/replicas"},
		{[]string{"controller.queueWait=20"}, "/controller/queueWait"},
		{[]string{"controller.leaderElect=true"}, "'leaderElect' not allowed"},
		{[]string{"mode=controller", "controller.queueURL=" + testQueueURL, testCluster, "controller.webhook.template=x"}, "controller.webhook.secretName is empty"},
		{[]string{"mode=controller", "controller.queueURL=" + testQueueURL, testCluster, "controller.webhook.secretName=s", "controller.webhook.template=x",
			"controller.webhook.templateConfigMap=c"}, "use one"},
		{[]string{"controller.webhook.secretKey="}, "/controller/webhook/secretKey"},
	} {
		t.Run(strings.Join(tc.sets, ","), func(t *testing.T) {
			out, err := runHelm(t, templateArgs(t, "spot", nil, tc.sets...)...)
			if err == nil || !strings.Contains(err.Error()+out, tc.want) {
				t.Errorf("helm template --set %v: %v; want an error with %q", tc.sets, err, tc.want)
			}
		})
	}
}

// TestControllerWebhook: controller.webhook mirrors the agent's webhook
// values: off by default (no flag, no volume); the URL read from the
// Secret's key as a file, never in the pod spec; the template from the
// chart's own ConfigMap (its checksum on the pod, so a change rolls it) or
// an existing one; --dry-run-webhook from controller.dryRunWebhook.
func TestControllerWebhook(t *testing.T) {
	def := fromUnstructured[appsv1.Deployment](t, one(t, renderMode(t, "controller"), "Deployment")).Spec.Template.Spec
	defArgs := flagArgs(t, def.Containers[0].Args[1:])
	for _, f := range []string{"webhook-url", "webhook-url-file", "webhook-template"} {
		if _, ok := defArgs[f]; ok {
			t.Errorf("default values set --%s: the controller's webhook must be off by default", f)
		}
	}
	if len(def.Volumes) != 0 || len(def.Containers[0].VolumeMounts) != 0 {
		t.Errorf("default values mount %v / %v, want nothing", def.Volumes, def.Containers[0].VolumeMounts)
	}

	const tpl = `spot-handler: {{ .Summary }}` // no commas or leading brace: --set would split it
	for _, tc := range []struct {
		name         string
		sets         []string
		cm, key      string
		ownConfigMap bool
	}{
		{"inline template", []string{"controller.webhook.template=" + tpl}, "spot-handler-controller-webhook-template", "template.tmpl", true},
		{"existing ConfigMap", []string{"controller.webhook.templateConfigMap=hooks", "controller.webhook.templateKey=slack.tmpl"}, "hooks", "slack.tmpl", false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			objs := renderMode(t, "both", append([]string{"controller.webhook.secretName=ctl-hook", "controller.webhook.secretKey=slack-url",
				"controller.dryRunWebhook=true"}, tc.sets...)...)
			dep := fromUnstructured[appsv1.Deployment](t, one(t, objs, "Deployment"))
			spec := dep.Spec.Template.Spec
			args := flagArgs(t, spec.Containers[0].Args[1:])
			if args["dry-run-webhook"] != "true" {
				t.Errorf("--dry-run-webhook=%q, want true", args["dry-run-webhook"])
			}
			mounts, vols := mountsOf(t, spec)
			if sec := vols["webhook-url"].Secret; sec == nil || sec.SecretName != "ctl-hook" || len(sec.Items) != 1 || sec.Items[0].Key != "slack-url" ||
				mounts["webhook-url"]+"/"+sec.Items[0].Path != args["webhook-url-file"] {
				t.Errorf("webhook URL volume %+v mounted at %q, --webhook-url-file=%s: want Secret ctl-hook's key slack-url at that path",
					vols["webhook-url"], mounts["webhook-url"], args["webhook-url-file"])
			}
			cm := vols["webhook-template"].ConfigMap
			if cm == nil || cm.Name != tc.cm || len(cm.Items) != 1 || cm.Items[0].Key != tc.key ||
				mounts["webhook-template"]+"/"+cm.Items[0].Path != args["webhook-template"] {
				t.Fatalf("webhook template volume %+v mounted at %q, --webhook-template=%s: want ConfigMap %s key %s there",
					vols["webhook-template"], mounts["webhook-template"], args["webhook-template"], tc.cm, tc.key)
			}
			for _, e := range spec.Containers[0].Env {
				if strings.Contains(strings.ToLower(e.Name), "webhook") {
					t.Errorf("env %s: the webhook URL must not be in the pod spec", e.Name)
				}
			}
			var own *corev1.ConfigMap
			for _, o := range find(objs, "ConfigMap") {
				if o.GetName() == tc.cm {
					own = fromUnstructured[corev1.ConfigMap](t, o)
				}
			}
			_, checksum := dep.Spec.Template.Annotations["checksum/webhook-template"]
			switch {
			case tc.ownConfigMap && (own == nil || strings.TrimSpace(own.Data[tc.key]) != tpl || !checksum):
				t.Errorf("ConfigMap %s: %+v, pod checksum annotation %v; want the template under %s and its checksum on the pod", tc.cm, own, checksum, tc.key)
			case !tc.ownConfigMap && own != nil:
				t.Errorf("the chart renders ConfigMap %s, which the user owns", tc.cm)
			}
			// The agent's webhook values are its own: the DaemonSet mounts nothing.
			if ds := fromUnstructured[appsv1.DaemonSet](t, one(t, objs, "DaemonSet")); len(ds.Spec.Template.Spec.Volumes) != 0 {
				t.Errorf("controller.webhook values mount %v into the agent", ds.Spec.Template.Spec.Volumes)
			}
		})
	}
}
