package chart_test

import (
	"os"
	"path/filepath"
	"reflect"
	"sort"
	"strconv"
	"strings"
	"testing"

	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	rbacv1 "k8s.io/api/rbac/v1"
	"k8s.io/apimachinery/pkg/api/resource"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/runtime"
)

// notFromValues are the flags the chart does not set from a value, and why.
var notFromValues = map[string]string{
	"node-name":   "NODE_NAME comes from the downward API",
	"kubeconfig":  "the agent runs with its in-cluster config",
	"context":     "the in-cluster config has no contexts",
	"webhook-url": "the URL is read from the mounted Secret (--webhook-url-file), never put in the pod spec",
}

func fromUnstructured[T any](tb testing.TB, o *unstructured.Unstructured) *T {
	tb.Helper()
	out := new(T)
	if err := runtime.DefaultUnstructuredConverter.FromUnstructuredWithValidation(o.Object, out, true); err != nil {
		tb.Fatalf("converting %s %s: %v", o.GetKind(), o.GetName(), err)
	}
	return out
}

func kinds(objs []*unstructured.Unstructured) []string {
	var k []string
	for _, o := range objs {
		k = append(k, o.GetKind())
	}
	sort.Strings(k)
	return k
}

func TestLint(t *testing.T) {
	for name, files := range map[string][]string{"defaults": nil, "all features": allFeatures(t)} {
		t.Run(name, func(t *testing.T) {
			args := []string{"lint", "--strict", chartDir(t), "--kube-version", kubeVersion}
			for _, f := range files {
				args = append(args, "--values", f)
			}
			out, err := runHelm(t, args...)
			if err != nil {
				t.Fatalf("%v\n%s", err, out)
			}
			if !strings.Contains(out, "0 chart(s) failed") {
				t.Fatalf("helm lint:\n%s", out)
			}
		})
	}
}

func TestTemplateDefaults(t *testing.T) {
	objs := render(t, "kube-system", nil)
	want := []string{"ClusterRole", "ClusterRoleBinding", "DaemonSet", "ServiceAccount", "ValidatingAdmissionPolicy", "ValidatingAdmissionPolicyBinding"}
	if got := kinds(objs); !reflect.DeepEqual(got, want) {
		t.Fatalf("default values render %v, want %v (optional features must be off by default; the node-bound policy is on from Kubernetes 1.32)", got, want)
	}
	ds := fromUnstructured[appsv1.DaemonSet](t, one(t, objs, "DaemonSet"))
	checkHardened(t, ds)
	args := renderedArgs(t, ds)
	for _, f := range []string{"imds-endpoint", "webhook-url-file", "webhook-template"} {
		if _, ok := args[f]; ok {
			t.Errorf("default values set --%s; it should be left to the agent", f)
		}
	}
	if len(ds.Spec.Template.Spec.Volumes) != 0 {
		t.Errorf("default values mount volumes %v, want none", ds.Spec.Template.Spec.Volumes)
	}
}

// checkHardened checks what issue 6 asks of the DaemonSet's pod.
func checkHardened(t *testing.T, ds *appsv1.DaemonSet) {
	t.Helper()
	spec := ds.Spec.Template.Spec
	if !spec.HostNetwork || spec.DNSPolicy != corev1.DNSClusterFirstWithHostNet {
		t.Errorf("hostNetwork=%v dnsPolicy=%q, want true and ClusterFirstWithHostNet (IMDSv2 hop limit 1)", spec.HostNetwork, spec.DNSPolicy)
	}
	if spec.PriorityClassName != "system-node-critical" {
		t.Errorf("priorityClassName = %q, want system-node-critical", spec.PriorityClassName)
	}
	if g := spec.TerminationGracePeriodSeconds; g == nil || *g < 150 {
		t.Errorf("terminationGracePeriodSeconds = %v, want >= 150 (a Spot drain lasts up to 2 minutes)", g)
	}
	tolerateAll := false
	for _, tol := range spec.Tolerations {
		if tol.Operator == corev1.TolerationOpExists && tol.Key == "" && tol.Effect == "" {
			tolerateAll = true
		}
	}
	if !tolerateAll {
		t.Errorf("tolerations %v do not tolerate every taint (want {operator: Exists})", spec.Tolerations)
	}
	checkSpotAffinity(t, spec.Affinity)
	if spec.AutomountServiceAccountToken == nil || !*spec.AutomountServiceAccountToken {
		t.Error("the agent needs its service account token mounted")
	}
	psc := spec.SecurityContext
	if psc == nil || psc.RunAsNonRoot == nil || !*psc.RunAsNonRoot || psc.SeccompProfile == nil ||
		psc.SeccompProfile.Type != corev1.SeccompProfileTypeRuntimeDefault || psc.RunAsUser == nil || *psc.RunAsUser != 65532 {
		t.Errorf("pod securityContext = %+v, want runAsNonRoot, runAsUser 65532, seccomp RuntimeDefault", psc)
	}
	if len(spec.Containers) != 1 {
		t.Fatalf("%d containers, want 1", len(spec.Containers))
	}
	c := spec.Containers[0]
	sc := c.SecurityContext
	switch {
	case sc == nil:
		t.Fatal("container has no securityContext")
	case sc.AllowPrivilegeEscalation == nil || *sc.AllowPrivilegeEscalation:
		t.Error("allowPrivilegeEscalation must be false")
	case sc.ReadOnlyRootFilesystem == nil || !*sc.ReadOnlyRootFilesystem:
		t.Error("readOnlyRootFilesystem must be true")
	case sc.Capabilities == nil || !reflect.DeepEqual(sc.Capabilities.Drop, []corev1.Capability{"ALL"}) || len(sc.Capabilities.Add) != 0:
		t.Errorf("capabilities = %+v, want drop [ALL] and add nothing", sc.Capabilities)
	case sc.Privileged != nil && *sc.Privileged:
		t.Error("container is privileged")
	case sc.SeccompProfile == nil || sc.SeccompProfile.Type != corev1.SeccompProfileTypeRuntimeDefault:
		t.Error("container seccomp profile must be RuntimeDefault")
	}
	req, lim := c.Resources.Requests, c.Resources.Limits
	if req.Cpu().IsZero() || req.Memory().IsZero() || lim.Memory().IsZero() {
		t.Errorf("resources = %+v, want cpu and memory requests and a memory limit", c.Resources)
	}
	// make bench (BenchmarkDrainFootprint): the agent's working set peaks at
	// 25.0 MiB in a 500-pod drain; a 110-pod drain thrashes under 64Mi and
	// runs as unlimited under 96Mi.
	if req.Memory().Cmp(resource.MustParse("26Mi")) < 0 || req.Memory().Cmp(*lim.Memory()) > 0 {
		t.Errorf("memory request %s is under the 500-pod drain's measured peak working set (25.0 MiB) or over the limit", req.Memory())
	}
	if lim.Memory().Cmp(resource.MustParse("96Mi")) < 0 {
		t.Errorf("memory limit %s is under 96Mi, the least limit make bench showed safe for a drain", lim.Memory())
	}
	if len(c.Command) != 0 || len(c.Args) == 0 || c.Args[0] != "agent" {
		t.Errorf("command %v args %v, want the image's entrypoint with args [agent ...]", c.Command, c.Args)
	}
	var nodeName bool
	for _, e := range c.Env {
		if e.Name == "NODE_NAME" && e.ValueFrom != nil && e.ValueFrom.FieldRef != nil && e.ValueFrom.FieldRef.FieldPath == "spec.nodeName" {
			nodeName = true
		}
	}
	if !nodeName {
		t.Error("NODE_NAME is not set from the downward API (spec.nodeName)")
	}
	var memLimit bool
	for _, e := range c.Env {
		fromLimit := e.ValueFrom != nil && e.ValueFrom.ResourceFieldRef != nil &&
			e.ValueFrom.ResourceFieldRef.Resource == "limits.memory" && e.ValueFrom.ResourceFieldRef.Divisor.IsZero()
		if e.Name == "GOMEMLIMIT" && (fromLimit || e.Value != "") { // or agent.extraEnv's
			memLimit = true
		}
	}
	if !memLimit {
		t.Error("GOMEMLIMIT is not set from the container's memory limit in bytes (downward API limits.memory, no divisor)")
	}
	self := map[string]string{}
	for _, e := range c.Env {
		if e.ValueFrom != nil && e.ValueFrom.FieldRef != nil {
			self[e.Name] = e.ValueFrom.FieldRef.FieldPath
		}
	}
	if self["POD_NAME"] != "metadata.name" || self["POD_NAMESPACE"] != "metadata.namespace" {
		t.Errorf("POD_NAME/POD_NAMESPACE from the downward API = %v: the agent needs them never to drain itself", self)
	}
	probes := map[string]*corev1.Probe{"/healthz": c.LivenessProbe, "/readyz": c.ReadinessProbe}
	for path, p := range probes {
		if p == nil || p.HTTPGet == nil || p.HTTPGet.Path != path || p.HTTPGet.Port.String() != "probes" {
			t.Errorf("probe for %s = %+v, want GET %s on the probes port", path, p, path)
		}
	}
	ports := map[string]int32{}
	for _, p := range c.Ports {
		ports[p.Name] = p.ContainerPort
	}
	args := renderedArgs(t, ds)
	// The addresses may name a host (the pod IP, loopback under
	// hostNetwork): only their ports must be the container's.
	if a := args["metrics-addr"]; !strings.HasSuffix(a, ":"+itoa(ports["metrics"])) {
		t.Errorf("--metrics-addr=%s but the metrics port is %d", a, ports["metrics"])
	}
	if a := args["probe-addr"]; !strings.HasSuffix(a, ":"+itoa(ports["probes"])) {
		t.Errorf("--probe-addr=%s but the probes port is %d", a, ports["probes"])
	}
}

func itoa(i int32) string { return strconv.Itoa(int(i)) }

// checkSpotAffinity checks the node affinity selects Spot nodes as kops, EKS
// managed node groups and Karpenter mark them, any one sufficing.
func checkSpotAffinity(t *testing.T, a *corev1.Affinity) {
	t.Helper()
	if a == nil || a.NodeAffinity == nil || a.NodeAffinity.RequiredDuringSchedulingIgnoredDuringExecution == nil {
		t.Fatalf("no required node affinity: the agent must run on Spot nodes only")
	}
	got := map[string][]string{}
	for _, term := range a.NodeAffinity.RequiredDuringSchedulingIgnoredDuringExecution.NodeSelectorTerms {
		if len(term.MatchExpressions) != 1 || term.MatchExpressions[0].Operator != corev1.NodeSelectorOpIn {
			t.Errorf("term %+v: want one In expression per term (terms are OR'ed)", term)
			continue
		}
		got[term.MatchExpressions[0].Key] = term.MatchExpressions[0].Values
	}
	want := map[string][]string{"spot": {"true"}, "eks.amazonaws.com/capacityType": {"SPOT"}, "karpenter.sh/capacity-type": {"spot"}}
	if !reflect.DeepEqual(got, want) {
		t.Errorf("Spot node terms = %v, want %v", got, want)
	}
}

func TestTemplateAllFeatures(t *testing.T) {
	objs := render(t, "spot", allFeatures(t))
	want := []string{"ClusterRole", "ClusterRoleBinding", "ConfigMap", "ConfigMap", "DaemonSet", "PodMonitor",
		"PrometheusRule", "Service", "ServiceAccount", "ServiceMonitor", "ValidatingAdmissionPolicy", "ValidatingAdmissionPolicyBinding"}
	if got := kinds(objs); !reflect.DeepEqual(got, want) {
		t.Fatalf("all features render %v, want %v", got, want)
	}
	ds := fromUnstructured[appsv1.DaemonSet](t, one(t, objs, "DaemonSet"))
	checkHardened(t, ds)
	args := renderedArgs(t, ds)
	for flag, want := range map[string]string{
		"imds-endpoint": "http://127.0.0.1:1338", "poll-interval": "2s", "drain-margin": "20s", "pdb-fallback": "wait",
		"drain-order":  "none",
		"taint-effect": "PreferNoSchedule", "rebalance": "drain", "scheduled-maintenance": "ignore", "asg-lifecycle": "ignore",
		"cordon-only": "true", "dry-run": "true", "log-format": "console", "log-level": "debug", "kube-api-qps": "30",
		"kube-api-burst": "60", "exclude-lb-label": "", "allow-rehearsal": "true", "metrics-addr": "[$(POD_IP)]:19102", "probe-addr": "127.0.0.1:18081",
	} {
		if args[flag] != want {
			t.Errorf("--%s = %q, want %q from the values", flag, args[flag], want)
		}
	}
	// The webhook URL comes from the Secret as a file, the template from the chart's ConfigMap.
	spec := ds.Spec.Template.Spec
	mounts, vols := mountsOf(t, spec)
	if s := vols["webhook-url"].Secret; s == nil || s.SecretName != "spot-handler-webhook" || len(s.Items) != 1 || s.Items[0].Key != "slack-url" ||
		filepath.Join(mounts["webhook-url"], s.Items[0].Path) != args["webhook-url-file"] {
		t.Errorf("webhook URL volume %+v mounted at %q, --webhook-url-file=%s: want the Secret's key at that path", vols["webhook-url"], mounts["webhook-url"], args["webhook-url-file"])
	}
	cm := vols["webhook-template"].ConfigMap
	if cm == nil || len(cm.Items) != 1 || filepath.Join(mounts["webhook-template"], cm.Items[0].Path) != args["webhook-template"] {
		t.Fatalf("webhook template volume %+v mounted at %q, --webhook-template=%s", vols["webhook-template"], mounts["webhook-template"], args["webhook-template"])
	}
	var tmpl *corev1.ConfigMap
	for _, o := range find(objs, "ConfigMap") {
		if o.GetName() == cm.Name {
			tmpl = fromUnstructured[corev1.ConfigMap](t, o)
		}
	}
	if tmpl == nil || !strings.Contains(tmpl.Data[cm.Items[0].Key], "{{ .Summary }}") {
		t.Errorf("ConfigMap %s does not hold the template under %s: %+v", cm.Name, cm.Items[0].Key, tmpl)
	}
	var memLimits []string
	for _, e := range spec.Containers[0].Env {
		if strings.Contains(strings.ToLower(e.Name), "webhook") {
			t.Errorf("env %s: the webhook URL must not be in the pod spec", e.Name)
		}
		if e.Name == "GOMEMLIMIT" {
			memLimits = append(memLimits, e.Value)
		}
	}
	if len(memLimits) != 1 || memLimits[0] != "100MiB" {
		t.Errorf("GOMEMLIMIT values %q, want only agent.extraEnv's 100MiB in place of the chart's", memLimits)
	}

	// The dashboard ConfigMap carries the sidecar label and the dashboard file as is.
	var dash *corev1.ConfigMap
	for _, o := range find(objs, "ConfigMap") {
		if o.GetLabels()["grafana_dashboard"] == "1" {
			dash = fromUnstructured[corev1.ConfigMap](t, o)
		}
	}
	file, err := os.ReadFile(filepath.Join(chartDir(t), "dashboards", "spot-handler.json"))
	if err != nil {
		t.Fatal(err)
	}
	if dash == nil || strings.TrimSpace(dash.Data["spot-handler.json"]) != strings.TrimSpace(string(file)) {
		t.Error("no ConfigMap labelled grafana_dashboard=1 holding dashboards/spot-handler.json")
	}

	// Monitors scrape the metrics port and name the job the alerts select.
	for _, kind := range []string{"PodMonitor", "ServiceMonitor"} {
		o := one(t, objs, kind)
		if jl, _, _ := unstructured.NestedString(o.Object, "spec", "jobLabel"); jl != "app.kubernetes.io/name" {
			t.Errorf("%s jobLabel = %q, want app.kubernetes.io/name (the alerts select job=\"spot-handler\")", kind, jl)
		}
		if o.GetLabels()["release"] != "prometheus" {
			t.Errorf("%s lacks its values' labels: %v", kind, o.GetLabels())
		}
	}
	svc := fromUnstructured[corev1.Service](t, one(t, objs, "Service"))
	if svc.Spec.ClusterIP != corev1.ClusterIPNone || len(svc.Spec.Ports) != 1 || svc.Spec.Ports[0].Port != 19102 || svc.Spec.Ports[0].TargetPort.String() != "metrics" {
		t.Errorf("metrics Service spec = %+v, want headless on port 19102 to the metrics port", svc.Spec)
	}
	// commonLabels reach every object.
	for _, o := range objs {
		if o.GetLabels()["team"] != "platform" {
			t.Errorf("%s %s lacks commonLabels", o.GetKind(), o.GetName())
		}
	}
}

func TestWebhookTemplateFromExistingConfigMap(t *testing.T) {
	objs := render(t, "spot", nil, "webhook.secretName=hook", "webhook.templateConfigMap=my-template", "webhook.templateKey=slack.tmpl")
	if n := len(find(objs, "ConfigMap")); n != 0 {
		t.Errorf("the chart made %d ConfigMaps; with templateConfigMap it must use the existing one", n)
	}
	ds := fromUnstructured[appsv1.DaemonSet](t, one(t, objs, "DaemonSet"))
	var found bool
	for _, v := range ds.Spec.Template.Spec.Volumes {
		if v.ConfigMap != nil && v.ConfigMap.Name == "my-template" && len(v.ConfigMap.Items) == 1 && v.ConfigMap.Items[0].Key == "slack.tmpl" {
			found = true
		}
	}
	if !found {
		t.Errorf("volumes %+v do not mount key slack.tmpl of ConfigMap my-template", ds.Spec.Template.Spec.Volumes)
	}
}

func TestRBACIsLeastPrivilege(t *testing.T) {
	objs := render(t, "spot", allFeatures(t))
	role := fromUnstructured[rbacv1.ClusterRole](t, one(t, objs, "ClusterRole"))
	want := []rbacv1.PolicyRule{
		{APIGroups: []string{""}, Resources: []string{"nodes"}, Verbs: []string{"get", "list", "watch", "patch"}},
		{APIGroups: []string{""}, Resources: []string{"pods"}, Verbs: []string{"get", "list", "watch", "delete"}},
		{APIGroups: []string{""}, Resources: []string{"pods/eviction"}, Verbs: []string{"create"}},
		{APIGroups: []string{"apps"}, Resources: []string{"daemonsets"}, Verbs: []string{"get"}},
		{APIGroups: []string{"policy"}, Resources: []string{"poddisruptionbudgets"}, Verbs: []string{"list"}},
		{APIGroups: []string{""}, Resources: []string{"events"}, Verbs: []string{"create", "patch"}},
		{APIGroups: []string{"events.k8s.io"}, Resources: []string{"events"}, Verbs: []string{"create", "patch"}},
	}
	if !reflect.DeepEqual(role.Rules, want) {
		t.Errorf("ClusterRole rules =\n%+v\nwant exactly\n%+v", role.Rules, want)
	}
	if len(find(objs, "Role")) != 0 || len(find(objs, "RoleBinding")) != 0 {
		t.Error("the chart grants more through a Role")
	}
	b := fromUnstructured[rbacv1.ClusterRoleBinding](t, one(t, objs, "ClusterRoleBinding"))
	sa := one(t, objs, "ServiceAccount")
	ds := fromUnstructured[appsv1.DaemonSet](t, one(t, objs, "DaemonSet"))
	if b.RoleRef.Name != role.Name || len(b.Subjects) != 1 || b.Subjects[0].Kind != "ServiceAccount" ||
		b.Subjects[0].Name != sa.GetName() || b.Subjects[0].Namespace != "spot" || ds.Spec.Template.Spec.ServiceAccountName != sa.GetName() {
		t.Errorf("binding %+v does not bind role %s to the DaemonSet's ServiceAccount %s/%s", b, role.Name, "spot", sa.GetName())
	}

	off := render(t, "spot", nil, "rbac.create=false", "serviceAccount.create=false", "serviceAccount.name=existing")
	// The node-bound policy grants nothing: it still binds the existing ServiceAccount to its node.
	if got := kinds(off); !reflect.DeepEqual(got, []string{"DaemonSet", "ValidatingAdmissionPolicy", "ValidatingAdmissionPolicyBinding"}) {
		t.Errorf("with rbac.create=false and serviceAccount.create=false the chart renders %v, want only the DaemonSet and the node-bound policy", got)
	}
	if sa := fromUnstructured[appsv1.DaemonSet](t, one(t, off, "DaemonSet")).Spec.Template.Spec.ServiceAccountName; sa != "existing" {
		t.Errorf("serviceAccountName = %q, want existing", sa)
	}
}

func TestOverrides(t *testing.T) {
	t.Run("affinity replaces the Spot terms", func(t *testing.T) {
		objs := render(t, "spot", nil, "affinity.nodeAffinity.requiredDuringSchedulingIgnoredDuringExecution.nodeSelectorTerms[0].matchExpressions[0].key=pool",
			"affinity.nodeAffinity.requiredDuringSchedulingIgnoredDuringExecution.nodeSelectorTerms[0].matchExpressions[0].operator=Exists")
		ds := fromUnstructured[appsv1.DaemonSet](t, one(t, objs, "DaemonSet"))
		terms := ds.Spec.Template.Spec.Affinity.NodeAffinity.RequiredDuringSchedulingIgnoredDuringExecution.NodeSelectorTerms
		if len(terms) != 1 || terms[0].MatchExpressions[0].Key != "pool" {
			t.Errorf("terms = %+v, want only the override", terms)
		}
	})
	t.Run("kops label", func(t *testing.T) {
		objs := render(t, "spot", nil, "spotNodeLabels[0].key=node-role.example.com/spot", "spotNodeLabels[0].values[0]=yes")
		ds := fromUnstructured[appsv1.DaemonSet](t, one(t, objs, "DaemonSet"))
		terms := ds.Spec.Template.Spec.Affinity.NodeAffinity.RequiredDuringSchedulingIgnoredDuringExecution.NodeSelectorTerms
		if len(terms) != 1 || terms[0].MatchExpressions[0].Key != "node-role.example.com/spot" || terms[0].MatchExpressions[0].Values[0] != "yes" {
			t.Errorf("terms = %+v", terms)
		}
	})
	t.Run("pod network", func(t *testing.T) {
		objs := render(t, "spot", nil, "hostNetwork=false")
		spec := fromUnstructured[appsv1.DaemonSet](t, one(t, objs, "DaemonSet")).Spec.Template.Spec
		if spec.HostNetwork || spec.DNSPolicy != corev1.DNSClusterFirst {
			t.Errorf("hostNetwork=%v dnsPolicy=%s, want false and ClusterFirst", spec.HostNetwork, spec.DNSPolicy)
		}
	})
	t.Run("image digest", func(t *testing.T) {
		objs := render(t, "spot", nil, "image.digest=sha256:"+strings.Repeat("ab", 32), "image.tag=ignored")
		img := fromUnstructured[appsv1.DaemonSet](t, one(t, objs, "DaemonSet")).Spec.Template.Spec.Containers[0].Image
		if img != "ghcr.io/spot-handler/spot-handler@sha256:"+strings.Repeat("ab", 32) {
			t.Errorf("image = %s", img)
		}
	})
}
