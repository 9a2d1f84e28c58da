package flagenv

import (
	"bytes"
	"errors"
	"flag"
	"strings"
	"testing"
	"time"
)

func newSet() (*flag.FlagSet, *string, *time.Duration, *bool) {
	fs := flag.NewFlagSet("x", flag.ContinueOnError)
	s := fs.String("node-name", "", "the node")
	d := fs.Duration("poll-interval", time.Second, "how often")
	b := fs.Bool("dry-run", false, "plan only")
	fs.Int("count", 1, "how many")
	fs.Float64("qps", 1, "rate")
	fs.Func("list", "a list", func(s string) error {
		if s != "a" {
			return errors.New("only a")
		}
		return nil
	})
	return fs, s, d, b
}

func TestParse(t *testing.T) {
	tests := []struct {
		name    string
		args    []string
		env     map[string]string
		node    string
		poll    time.Duration
		dry     bool
		wantErr string
	}{
		{name: "defaults", poll: time.Second},
		{name: "env fills", env: map[string]string{"SH_NODE_NAME": "n1", "SH_POLL_INTERVAL": "250ms", "SH_DRY_RUN": "true"}, node: "n1", poll: 250 * time.Millisecond, dry: true},
		{name: "flag wins over env", args: []string{"--node-name", "flag"}, env: map[string]string{"SH_NODE_NAME": "env"}, node: "flag", poll: time.Second},
		{name: "unknown flag", args: []string{"--nope"}, wantErr: "x: flag provided but not defined: -nope (run 'x --help' for the flags)"},
		{name: "bad env", env: map[string]string{"SH_POLL_INTERVAL": "soon"}, wantErr: `environment variable SH_POLL_INTERVAL="soon" is not a valid --poll-interval`},
		{name: "stray argument", args: []string{"extra"}, wantErr: `unexpected argument "extra"`},
		{name: "duration without unit", args: []string{"--poll-interval=5"}, wantErr: `x: --poll-interval="5": want a duration like 5s, 1m30s or 500ms (a unit is required)`},
		{name: "bool word", args: []string{"--dry-run=yes"}, wantErr: `x: --dry-run="yes": want true or false`},
		{name: "bad env bool", env: map[string]string{"SH_DRY_RUN": "yes"}, wantErr: `environment variable SH_DRY_RUN="yes" is not a valid --dry-run: want true or false`},
		{name: "bad env duration", env: map[string]string{"SH_POLL_INTERVAL": "5"}, wantErr: `SH_POLL_INTERVAL="5" is not a valid --poll-interval: want a duration like 5s`},
		{name: "int", args: []string{"--count=many"}, wantErr: `x: --count="many": want a whole number`},
		{name: "int out of range", args: []string{"--count=99999999999999999999"}, wantErr: `want a whole number (out of range)`},
		{name: "float", args: []string{"--qps=fast"}, wantErr: `x: --qps="fast": want a number like 2.5`},
		{name: "custom value keeps its reason", args: []string{"--list=b"}, wantErr: `x: --list="b": only a`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			fs, s, d, b := newSet()
			err := Parse(fs, "x", "SH", tt.args, func(k string) string { return tt.env[k] }, &bytes.Buffer{})
			if tt.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
					t.Fatalf("err = %v, want it to contain %q", err, tt.wantErr)
				}
				if strings.Contains(err.Error(), "\n") {
					t.Fatalf("error is not one line: %q", err)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if *s != tt.node || *d != tt.poll || *b != tt.dry {
				t.Fatalf("got node=%q poll=%v dry=%v", *s, *d, *b)
			}
		})
	}
}

func TestHelpListsEnv(t *testing.T) {
	fs, _, _, _ := newSet()
	fs.Usage = Usage(fs, "x [flags]", "Does x.", "SH")
	var out bytes.Buffer
	err := Parse(fs, "x", "SH", []string{"--help"}, func(string) string { return "" }, &out)
	if !errors.Is(err, ErrHelp) {
		t.Fatalf("err = %v, want ErrHelp", err)
	}
	for _, want := range []string{"Usage: x [flags]", "--poll-interval duration", "(default 1s)", "[$SH_POLL_INTERVAL]", "[$SH_DRY_RUN]",
		"a flag on the command line wins over its variable"} {
		if !strings.Contains(out.String(), want) {
			t.Errorf("help lacks %q:\n%s", want, out.String())
		}
	}
}
