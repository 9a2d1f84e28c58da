// Package flagenv parses a flag set from command-line arguments and, for every
// flag not given on the command line, from an environment variable named
// PREFIX_<FLAG>, with the flag's dashes turned into underscores and upper-cased
// (--poll-interval → SPOT_HANDLER_POLL_INTERVAL). A flag on the command line
// always wins over the environment.
//
// A value a flag refuses is reported with the flag, the value and what the
// flag takes ("--poll-interval=\"5\": want a duration like 5s, ..."), not
// the flag package's bare "parse error".
//
// Errors are one line and say what to do, so a main can print them and exit 2.
package flagenv

import (
	"errors"
	"flag"
	"fmt"
	"io"
	"strings"
)

// ErrHelp is returned when -h or --help was asked for; the usage has been
// written to the flag set's output.
var ErrHelp = flag.ErrHelp

// EnvName returns the environment variable that sets flag name under prefix.
func EnvName(prefix, name string) string {
	return prefix + "_" + strings.ToUpper(strings.ReplaceAll(name, "-", "_"))
}

// Parse parses args into fs, then fills each flag that args did not set from
// getenv(EnvName(prefix, flag)). cmd names the command in error messages.
// fs should be created with flag.ContinueOnError. The usage goes to out when
// help is asked for; parse errors are returned, never printed.
func Parse(fs *flag.FlagSet, cmd, prefix string, args []string, getenv func(string) string, out io.Writer) error {
	fs.SetOutput(io.Discard)
	failed, restore := record(fs)
	err := fs.Parse(args)
	restore()
	if err != nil {
		if errors.Is(err, flag.ErrHelp) {
			fs.SetOutput(out)
			fs.Usage()
			return ErrHelp
		}
		if failed.name != "" {
			return failed.describe(cmd)
		}
		return fmt.Errorf("%s: %v (run '%s --help' for the flags)", cmd, err, cmd)
	}
	if fs.NArg() > 0 {
		return fmt.Errorf("%s: unexpected argument %q (flags only; run '%s --help')", cmd, fs.Arg(0), cmd)
	}
	set := map[string]bool{}
	fs.Visit(func(f *flag.Flag) { set[f.Name] = true })
	fs.VisitAll(func(f *flag.Flag) {
		if err != nil || set[f.Name] {
			return
		}
		name := EnvName(prefix, f.Name)
		v := getenv(name)
		if v == "" {
			return
		}
		if e := fs.Set(f.Name, v); e != nil {
			err = fmt.Errorf("%s: environment variable %s=%s is not a valid --%s: %s", cmd, name, shown(f.Value, v), f.Name, Want(f.Value, e))
		}
	})
	return err
}

// Usage returns a flag.FlagSet Usage function that prints a synopsis, a
// description and every flag with its default and environment variable,
// in the style "--name value   text (default x) [$PREFIX_NAME]".
func Usage(fs *flag.FlagSet, synopsis, description, prefix string) func() {
	return func() {
		w := fs.Output()
		fmt.Fprintf(w, "Usage: %s\n\n%s\n\nFlags (each can also be set by the environment variable shown\nin [$...]; a flag on the command line wins over its variable):\n", synopsis, strings.TrimSpace(description))
		fs.VisitAll(func(f *flag.Flag) {
			typ, usage := flag.UnquoteUsage(f)
			fmt.Fprintf(w, "  --%s", f.Name)
			if typ != "" {
				fmt.Fprintf(w, " %s", typ)
			}
			fmt.Fprintf(w, "\n      %s", strings.ReplaceAll(usage, "\n", "\n      "))
			if f.DefValue != "" && f.DefValue != "false" && f.DefValue != "0" && f.DefValue != "[]" {
				fmt.Fprintf(w, " (default %s)", f.DefValue)
			}
			fmt.Fprintf(w, " [$%s]\n", EnvName(prefix, f.Name))
		})
	}
}
