package chart_test

import (
	"reflect"
	"sort"
	"strings"
	"testing"
	"unicode"
)

// promqlKeywords are identifiers that are not metric names: operators,
// modifiers and aggregations (an aggregation followed by "by (...)" is not
// directly followed by "(").
var promqlKeywords = map[string]bool{
	"and": true, "or": true, "unless": true, "by": true, "without": true, "on": true, "ignoring": true,
	"group_left": true, "group_right": true, "bool": true, "offset": true, "atan2": true, "inf": true, "nan": true,
	"sum": true, "min": true, "max": true, "avg": true, "group": true, "stddev": true, "stdvar": true, "count": true,
	"count_values": true, "bottomk": true, "topk": true, "quantile": true, "limitk": true, "limit_ratio": true,
}

// labelListKeywords are followed by a parenthesised list of label names.
var labelListKeywords = map[string]bool{"by": true, "without": true, "on": true, "ignoring": true, "group_left": true, "group_right": true}

// metricNames returns the metric names a PromQL expression selects, sorted
// and without duplicates. It is a small tokenizer, not a parser: it skips
// strings, label matchers in {...}, ranges in [...], label lists after
// by/without/on/ignoring/group_left/group_right, function calls and keywords.
// promtool checks the same expressions' syntax, so it only has to be right on
// valid PromQL.
func metricNames(expr string) []string {
	seen := map[string]bool{}
	rs := []rune(expr)
	braces, brackets := 0, 0
	skipParens := false // the next "(...)" is a label list
	for i := 0; i < len(rs); {
		r := rs[i]
		switch {
		case r == '"' || r == '\'' || r == '`':
			j := i + 1
			for j < len(rs) && rs[j] != r {
				if rs[j] == '\\' {
					j++
				}
				j++
			}
			i = j + 1
		case r == '{':
			braces++
			i++
		case r == '}':
			braces--
			i++
		case r == '[':
			brackets++
			i++
		case r == ']':
			brackets--
			i++
		case r == '(' && skipParens:
			for i < len(rs) && rs[i] != ')' {
				i++
			}
			skipParens = false
		case r == '#': // comment to end of line
			for i < len(rs) && rs[i] != '\n' {
				i++
			}
		case unicode.IsLetter(r) || r == '_' || r == ':':
			j := i
			for j < len(rs) && (unicode.IsLetter(rs[j]) || unicode.IsDigit(rs[j]) || rs[j] == '_' || rs[j] == ':') {
				j++
			}
			word := string(rs[i:j])
			i = j
			if braces > 0 || brackets > 0 {
				continue
			}
			k := j
			for k < len(rs) && unicode.IsSpace(rs[k]) {
				k++
			}
			switch {
			case labelListKeywords[word]:
				skipParens = k < len(rs) && rs[k] == '('
			case promqlKeywords[word]:
			case k < len(rs) && rs[k] == '(': // a function
			default:
				seen[word] = true
			}
		case unicode.IsDigit(r) || r == '.': // a number or duration, e.g. 0.5, 1e3, 15m
			for i < len(rs) && (unicode.IsLetter(rs[i]) || unicode.IsDigit(rs[i]) || rs[i] == '.') {
				i++
			}
		default:
			i++
		}
	}
	out := make([]string, 0, len(seen))
	for n := range seen {
		out = append(out, n)
	}
	sort.Strings(out)
	return out
}

func TestMetricNamesTokenizer(t *testing.T) {
	for _, tc := range []struct {
		expr string
		want []string
	}{
		{`up{job="a"} == 0`, []string{"up"}},
		{`sum by (le, job) (rate(x_bucket{a=~"b|c", d!="e{f}"}[5m] offset 1h))`, []string{"x_bucket"}},
		{`count by (instance_type) (a * on (job, instance) group_left (node, zone) max by (node) (b))`, []string{"a", "b"}},
		{`time() - last_seen > 60`, []string{"last_seen"}},
		{`histogram_quantile(0.99, sum without (pod) (increase(h_bucket[1h]))) or vector(0)`, []string{"h_bucket"}},
		{`max_over_time(n{kind="SpotInterruption"}[$__range]) unless ignoring (x) m > bool 1e3`, []string{"m", "n"}},
	} {
		if got := metricNames(tc.expr); !reflect.DeepEqual(got, tc.want) {
			t.Errorf("metricNames(%q) = %v, want %v", tc.expr, got, tc.want)
		}
	}
}

// grafanaMacros turns a dashboard query into plain PromQL.
var grafanaMacros = strings.NewReplacer("$__rate_interval", "5m", "$__interval", "1m", "$__range", "1h", "$job", ".+", "${job}", ".+")
