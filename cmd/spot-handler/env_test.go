package main

import (
	"flag"
	"io"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/spot-handler/spot-handler/internal/flagenv"
)

// TestEveryFlagFromEnvironment: each flag of the two long-running modes
// (what the chart runs) can be set by its SPOT_HANDLER_* variable to the
// value the flag would take, and the command line beats the variable.
func TestEveryFlagFromEnvironment(t *testing.T) {
	none := func(string) string { return "" }
	modes := map[string]func(fs *flag.FlagSet){
		"agent":      func(fs *flag.FlagSet) { new(agentFlags).register(fs, none) },
		"controller": func(fs *flag.FlagSet) { new(controllerFlags).register(fs, none) },
	}
	for mode, register := range modes {
		names := flag.NewFlagSet(mode, flag.ContinueOnError)
		register(names)
		names.VisitAll(func(f *flag.Flag) {
			t.Run(mode+"/"+f.Name, func(t *testing.T) {
				v := otherValue(f)
				parse := func(args []string, env map[string]string) string {
					fs := flag.NewFlagSet(mode, flag.ContinueOnError)
					register(fs)
					if err := flagenv.Parse(fs, mode, envPrefix, args, func(k string) string { return env[k] }, io.Discard); err != nil {
						t.Fatal(err)
					}
					return fs.Lookup(f.Name).Value.String()
				}
				name := flagenv.EnvName(envPrefix, f.Name)
				fromFlag := parse([]string{"--" + f.Name + "=" + v}, nil)
				fromEnv := parse(nil, map[string]string{name: v})
				if fromEnv != fromFlag || fromEnv == f.DefValue {
					t.Errorf("%s=%q gives %q; --%s=%q gives %q (default %q)", name, v, fromEnv, f.Name, v, fromFlag, f.DefValue)
				}
				if both := parse([]string{"--" + f.Name + "=" + v}, map[string]string{name: otherValue(f, v)}); both != fromFlag {
					t.Errorf("with both set, --%s gave %q: the flag must win", f.Name, both)
				}
			})
		})
	}
}

// otherValue is a valid value for f unlike its default (and unlike not).
func otherValue(f *flag.Flag, not ...string) string {
	pick := func(vs ...string) string {
		for _, v := range vs {
			if v != f.DefValue && (len(not) == 0 || v != not[0]) {
				return v
			}
		}
		return ""
	}
	switch g, _ := f.Value.(flag.Getter); {
	case g == nil:
		return pick("X-Env: 1", "X-Other: 2") // --webhook-header
	default:
		switch g.Get().(type) {
		case bool:
			return pick("true", "false")
		case time.Duration:
			return pick("7s", "9s")
		case int, float64:
			return pick("7", "9")
		}
	}
	return pick("from-env", "other")
}

// TestHelpNamesEveryVariable: every subcommand's --help lists each flag's
// variable and says that a flag beats its variable.
func TestHelpNamesEveryVariable(t *testing.T) {
	for _, sub := range [][]string{{"agent"}, {"controller"}, {"controller", "setup"}, {"advise"}, {"rehearse"}, {"version"}} {
		t.Run(strings.Join(sub, " "), func(t *testing.T) {
			code, out, _ := runMain(t, nil, append(sub, "--help")...)
			if code != 0 || !strings.Contains(out, "a flag on the command line wins over its variable") {
				t.Fatalf("exit %d; help lacks the precedence:\n%s", code, out)
			}
			_, list, _ := strings.Cut(out, "\nFlags (")
			entries := regexp.MustCompile(`(?m)^  --`).Split(list, -1)[1:]
			for _, e := range entries {
				name, _, _ := strings.Cut(e, " ")
				name, _, _ = strings.Cut(name, "\n")
				if want := "[$" + flagenv.EnvName(envPrefix, name) + "]"; !strings.Contains(e, want) {
					t.Errorf("--%s: help lacks %s", name, want)
				}
			}
			if len(entries) == 0 && sub[0] != "version" {
				t.Errorf("no flags listed:\n%s", out)
			}
		})
	}
}
