package chart_test

import (
	"slices"
	"testing"
)

// checkValuesMapOntoFlags keeps what the chart renders for `spot-handler
// <sub>` and that sub-command's --help flags one to one. all is the
// container's --flag=value arguments with every value set, def those of the
// default values (the same map where one render serves both). Every flag
// passed must exist; every flag must be set in all, or listed in
// notFromValues with the reason it is not; and each flag def renders must
// have the sub-command's default, and one def leaves unset an empty
// default, but for the flags in own, whose value the test itself chose.
func checkValuesMapOntoFlags(t *testing.T, sub string, flags map[string]agentFlag, all, def, notFromValues map[string]string, own ...string) {
	t.Helper()
	for _, rendered := range []map[string]string{def, all} {
		for name := range rendered {
			if _, ok := flags[name]; !ok {
				t.Errorf("the chart passes --%s, which spot-handler %s does not have", name, sub)
			}
		}
	}
	for name, f := range flags {
		why, skip := notFromValues[name]
		_, inAll := all[name]
		switch {
		case skip && inAll:
			t.Errorf("--%s is set, but %s", name, why)
		case skip:
		case !inAll:
			t.Errorf("no value sets --%s (add one to values.yaml, the schema and README)", name)
		}
		if slices.Contains(own, name) {
			continue
		}
		if v, ok := def[name]; ok && !sameValue(f, v) {
			t.Errorf("default values render --%s=%s, the %s's default is %q", name, v, sub, f.def)
		}
		if _, ok := def[name]; !ok && !skip && f.def != "" {
			t.Errorf("default values leave --%s unset, but the %s's default %q is not empty", name, sub, f.def)
		}
	}
}
