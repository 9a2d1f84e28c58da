package setup

import (
	"bytes"
	"encoding/json"
	"flag"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"go.yaml.in/yaml/v3"

	"github.com/spot-handler/spot-handler/pkg/queue"
)

var update = flag.Bool("update", false, "rewrite the golden files in testdata")

// golden compares got with testdata/name, or rewrites it with -update.
func golden(t *testing.T, name string, got []byte) {
	t.Helper()
	path := filepath.Join("testdata", name)
	if *update {
		if err := os.WriteFile(path, got, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	want, err := os.ReadFile(path)
	if err != nil {
		t.Fatalf("reading golden file (run go test ./internal/setup -update to write it): %v", err)
	}
	if !bytes.Equal(got, want) {
		t.Errorf("%s differs from the golden file (go test ./internal/setup -update rewrites it after review); got:\n%s", name, got)
	}
}

func mustNew(t *testing.T, cfg Config) *Plan {
	t.Helper()
	p, err := New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	return p
}

func TestGolden(t *testing.T) {
	cfn, err := mustNew(t, Config{Cluster: "prod-east"}).CloudFormation()
	if err != nil {
		t.Fatal(err)
	}
	golden(t, "cloudformation.golden.yaml", cfn)
	doc, err := mustNew(t, Config{Cluster: "prod-east", DescribeInstances: true}).JSON()
	if err != nil {
		t.Fatal(err)
	}
	golden(t, "document-fallback.golden.json", doc)
}

func TestNewRejectsBadClusterNames(t *testing.T) {
	for _, name := range []string{"", "-leading-dash", "has space", "dot.ted", "slash/ed", strings.Repeat("a", 101), "ünïcode"} {
		t.Run(name, func(t *testing.T) {
			_, err := New(Config{Cluster: name})
			if err == nil || !strings.Contains(err.Error(), "1 to 100 letters") {
				t.Errorf("New(%q) = %v, want an error saying what a cluster name is", name, err)
			}
		})
	}
}

func TestNamesWithinAWSLimits(t *testing.T) {
	long := strings.Repeat("c", 67)
	p := mustNew(t, Config{Cluster: long})
	if len(p.QueueName) != maxQueueName || p.QueueName != "spot-handler-"+long {
		t.Errorf("queue name %q (%d bytes), want spot-handler-%s (80 bytes)", p.QueueName, len(p.QueueName), long)
	}
	for _, n := range []int{68, 100} {
		_, err := New(Config{Cluster: strings.Repeat("c", n)})
		if err == nil || !strings.Contains(err.Error(), "SQS's 80-character limit") || !strings.Contains(err.Error(), "at most 67") {
			t.Errorf("a %d-character cluster name: %v, want an error naming SQS's limit and the longest name", n, err)
		}
	}
	seen := map[string]bool{}
	for _, r := range p.Rules {
		if len(r.Name) > maxRuleName || seen[r.Name] {
			t.Errorf("rule name %q: %d bytes or repeated", r.Name, len(r.Name))
		}
		seen[r.Name] = true
	}
	if short := mustNew(t, Config{Cluster: "a"}); short.QueueName != "spot-handler-a" || short.Rules[0].Name != "a-"+strings.TrimPrefix(short.Rules[0].ID, "Rule") {
		t.Errorf("short names clipped: %q, %q", short.QueueName, short.Rules[0].Name)
	}
}

// TestRulesCoverParsers checks the rules against pkg/queue: one rule per
// kind Parse reads, each kind's sample event parses into a notice of the
// rule's type, and what a narrowing keeps out parses into no notice.
func TestRulesCoverParsers(t *testing.T) {
	p := mustNew(t, Config{Cluster: "c"})
	kinds := queue.EventKinds()
	if len(p.Rules) != len(kinds) {
		t.Fatalf("%d rules for %d kinds", len(p.Rules), len(kinds))
	}
	for i, r := range p.Rules {
		k := kinds[i]
		if !slices.Equal(r.Pattern.Source, []string{k.Source}) || !slices.Equal(r.Pattern.DetailType, []string{k.DetailType}) || r.Type != k.Type {
			t.Errorf("rule %s: pattern %+v, type %s; want %+v", r.ID, r.Pattern, r.Type, k)
		}
		sample, ok := samples[k.DetailType]
		if !ok {
			t.Errorf("no sample event for %q: add one to samples_test.go", k.DetailType)
			continue
		}
		m := mustParse(t, envelope(k.Source, k.DetailType, sample))
		if m.Type != r.Type || len(m.Notices) == 0 {
			t.Errorf("%s sample: type %s, %d notices", k.DetailType, m.Type, len(m.Notices))
		}
		if !matchesDetail(t, r.Pattern, sample) {
			t.Errorf("rule %s's narrowing %v drops its own sample %s", r.ID, r.Pattern.Detail, sample)
		}
		for _, out := range outside[r.Type] {
			if matchesDetail(t, r.Pattern, out) {
				t.Errorf("rule %s lets in %s, which outside[] says it keeps out", r.ID, out)
			}
			if m := mustParse(t, envelope(k.Source, k.DetailType, out)); len(m.Notices) != 0 {
				t.Errorf("rule %s keeps out %s, but queue.Parse makes notices of it: %+v", r.ID, out, m.Notices)
			}
		}
	}
	for typ := range narrowing {
		if len(outside[typ]) == 0 {
			t.Errorf("narrowing of %s has no example of what it keeps out in outside[]", typ)
		}
	}
}

// matchesDetail applies a pattern's detail fields (exact string values, the
// only form the rules use) to a detail; the moto test checks EventBridge's own
// matching.
func matchesDetail(t *testing.T, p Pattern, detail string) bool {
	var d map[string]any
	if err := json.Unmarshal([]byte(detail), &d); err != nil {
		t.Fatal(err)
	}
	for field, values := range p.Detail {
		s, _ := d[field].(string)
		if !slices.Contains(values, any(s)) {
			return false
		}
	}
	return true
}

// TestPolicies checks the least-privilege claims on the rendered template.
func TestPolicies(t *testing.T) {
	for _, fallback := range []bool{false, true} {
		cfn, err := mustNew(t, Config{Cluster: "c", DescribeInstances: fallback}).CloudFormation()
		if err != nil {
			t.Fatal(err)
		}
		var tpl struct {
			Resources map[string]struct {
				Type       string `yaml:"Type"`
				Properties struct {
					PolicyDocument PolicyDocument `yaml:"PolicyDocument"`
				} `yaml:"Properties"`
			} `yaml:"Resources"`
		}
		if err := yaml.Unmarshal(cfn, &tpl); err != nil {
			t.Fatalf("template is not YAML: %v", err)
		}
		var actions []string
		for _, s := range tpl.Resources["ControllerPolicy"].Properties.PolicyDocument.Statement {
			if s.Effect != "Allow" {
				t.Errorf("statement %s: effect %s", s.Sid, s.Effect)
			}
			for _, a := range s.Action {
				if strings.Contains(a, "*") {
					t.Errorf("wildcard action %s", a)
				}
				if s.Resource == "*" && !strings.Contains(a, ":Describe") {
					t.Errorf("%s on every resource: only Describe calls need that", a)
				}
			}
			actions = append(actions, s.Action...)
		}
		want := []string{"autoscaling:CompleteLifecycleAction", "autoscaling:DescribeAutoScalingGroups", "autoscaling:DescribeLifecycleHooks", "autoscaling:RecordLifecycleActionHeartbeat",
			"sqs:ChangeMessageVisibility", "sqs:DeleteMessage", "sqs:ReceiveMessage"}
		if fallback {
			want = append(want, "ec2:DescribeInstances")
		}
		slices.Sort(actions)
		slices.Sort(want)
		if !slices.Equal(actions, want) {
			t.Errorf("fallback %v: actions %v, want %v", fallback, actions, want)
		}
		if tpl.Resources["QueuePolicy"].Type != "AWS::SQS::QueuePolicy" {
			t.Errorf("no queue policy")
		}
	}
}

// TestScopedToCluster: the lifecycle rule matches the named groups and the
// prefix (and every group without either); the lifecycle actions are
// allowed only on groups tagged kubernetes.io/cluster/<name> and on the
// named ones; only the plan's rules may send to the queue; the queue keeps
// messages 4 days.
func TestScopedToCluster(t *testing.T) {
	lifecycleRule := func(p *Plan) Rule {
		for _, r := range p.Rules {
			if r.Type == queue.TypeLifecycle {
				return r
			}
		}
		t.Fatal("no lifecycle rule")
		return Rule{}
	}
	if d := lifecycleRule(mustNew(t, Config{Cluster: "prod"})).Pattern.Detail; d != nil {
		t.Errorf("without names or prefix the lifecycle rule filters %v, want every group", d)
	}
	p := mustNew(t, Config{Cluster: "prod", ASGNames: []string{"blue", "green"}, ASGPrefix: "eksctl-prod-"})
	got, _ := json.Marshal(lifecycleRule(p).Pattern.Detail)
	if string(got) != `{"AutoScalingGroupName":["blue","green",{"prefix":"eksctl-prod-"}]}` {
		t.Errorf("lifecycle rule's detail %s, want the two groups and the prefix", got)
	}
	doc := p.Document()
	if doc.QueueAttributes["MessageRetentionPeriod"] != "345600" {
		t.Errorf("retention %s, want 345600 (4 days)", doc.QueueAttributes["MessageRetentionPeriod"])
	}
	var lifecycle []Statement
	for _, st := range doc.ControllerPolicy.Statement {
		if slices.Contains(st.Action, "autoscaling:CompleteLifecycleAction") {
			lifecycle = append(lifecycle, st)
		}
	}
	if len(lifecycle) != 2 {
		t.Fatalf("lifecycle statements %+v, want the tagged groups' and the named groups'", lifecycle)
	}
	tagged, _ := json.Marshal(lifecycle[0])
	if !strings.Contains(string(tagged), `"Condition":{"Null":{"autoscaling:ResourceTag/kubernetes.io/cluster/prod":"false"}}`) {
		t.Errorf("tagged groups' statement %s: want it conditioned on the cluster tag", tagged)
	}
	named, _ := json.Marshal(lifecycle[1].Resource)
	if lifecycle[1].Condition != nil || !strings.Contains(string(named), "autoScalingGroupName/blue") || !strings.Contains(string(named), "autoScalingGroupName/green") ||
		strings.Contains(string(named), "autoScalingGroupName/*") {
		t.Errorf("named groups' statement on %s: want blue and green only", named)
	}
	send := doc.QueuePolicy.Statement[0]
	arns, _ := json.Marshal(send.Condition["ArnEquals"])
	for _, r := range doc.Rules {
		if !strings.Contains(string(arns), ":rule/"+r.Name+`"`) {
			t.Errorf("queue policy's aws:SourceArn %s lacks rule %s", arns, r.Name)
		}
	}
	if !slices.Equal(send.Action, []string{"sqs:SendMessage"}) || !strings.Contains(string(arns), "aws:SourceArn") {
		t.Errorf("queue policy's send statement %+v: want sqs:SendMessage conditioned on aws:SourceArn", send)
	}
	if _, err := New(Config{Cluster: "prod", ASGNames: []string{"a,b"}}); err == nil {
		t.Error("a group name with a comma accepted")
	}
}
