// Command spot-handler keeps Kubernetes workloads alive on AWS Spot capacity.
//
//	spot-handler agent     watch instance metadata and drain this node before it is reclaimed
//	spot-handler controller queue mode: drain any node of the cluster from EventBridge events on SQS
//	spot-handler advise    rank and diversify Spot instance types for a node group
//	spot-handler rehearse  rehearse an interruption on a node of a stage cluster
//	spot-handler version   print the build's version
//
// main only wires the process (signals, stdio, environment) to Main and turns
// its error into an exit code: 0 success, 1 failure, 2 bad usage or config.
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"os/signal"
	"sort"
	"syscall"

	"github.com/spot-handler/spot-handler/internal/flagenv"
)

// envPrefix prefixes every flag's environment variable.
const envPrefix = "SPOT_HANDLER"

// stdio is what a subcommand may touch of the process.
type stdio struct {
	out, err io.Writer
	getenv   func(string) string
}

// subcommand is one verb of the binary. run parses its own flags from args.
type subcommand struct {
	summary string
	run     func(ctx context.Context, args []string, io stdio) error
}

var subcommands = map[string]subcommand{
	"agent":      {"watch instance metadata and drain this node before it is reclaimed", runAgent},
	"advise":     {"rank and diversify Spot instance types for a node group", runAdvise},
	"controller": {"queue mode: drain any node of the cluster from EventBridge events on SQS", runController},
	"rehearse":   {"rehearse a Spot interruption on a node of a stage cluster", runRehearse},
	"version":    {"print version, commit and Go version", runVersion},
}

// usageError marks an error caused by bad flags or configuration (exit 2).
type usageError struct{ err error }

func (e usageError) Error() string { return e.err.Error() }
func (e usageError) Unwrap() error { return e.err }

// usagef returns a usageError with a formatted message.
func usagef(format string, a ...any) error { return usageError{fmt.Errorf(format, a...)} }

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), syscall.SIGTERM, os.Interrupt)
	code := Main(ctx, os.Args[1:], stdio{out: os.Stdout, err: os.Stderr, getenv: os.Getenv})
	stop()
	os.Exit(code)
}

// Main runs the subcommand named by args[0] and returns the exit code.
func Main(ctx context.Context, args []string, io stdio) int {
	if len(args) == 0 || args[0] == "-h" || args[0] == "--help" || args[0] == "help" {
		printUsage(io.out)
		if len(args) == 0 {
			return 2
		}
		return 0
	}
	sc, ok := subcommands[args[0]]
	if !ok {
		fmt.Fprintf(io.err, "spot-handler: unknown command %q (want one of: %s; run 'spot-handler --help')\n", args[0], names())
		return 2
	}
	err := sc.run(ctx, args[1:], io)
	switch {
	case err == nil, errors.Is(err, flagenv.ErrHelp):
		return 0
	case errors.As(err, new(usageError)):
		fmt.Fprintln(io.err, err)
		return 2
	default:
		fmt.Fprintf(io.err, "spot-handler %s: %v\n", args[0], err)
		return 1
	}
}

func names() string {
	var n []string
	for k := range subcommands {
		n = append(n, k)
	}
	sort.Strings(n)
	s := ""
	for i, k := range n {
		if i > 0 {
			s += ", "
		}
		s += k
	}
	return s
}

func printUsage(w io.Writer) {
	fmt.Fprint(w, "spot-handler keeps Kubernetes workloads alive on AWS Spot capacity.\n\nUsage:\n  spot-handler <command> [flags]\n\nCommands:\n")
	for _, k := range []string{"agent", "controller", "advise", "rehearse", "version"} {
		fmt.Fprintf(w, "  %-9s %s\n", k, subcommands[k].summary)
	}
	fmt.Fprint(w, "\nEvery flag can also be set by an environment variable SPOT_HANDLER_<FLAG>\n(--poll-interval → SPOT_HANDLER_POLL_INTERVAL); a flag on the command line wins.\nRun 'spot-handler <command> --help' for a command's flags.\n")
}

// parseFlags parses a subcommand's flag set from args and the environment;
// a bad flag or variable becomes a usageError (exit 2), --help flagenv.ErrHelp.
func parseFlags(fs *flag.FlagSet, args []string, io stdio) error {
	err := flagenv.Parse(fs, "spot-handler "+fs.Name(), envPrefix, args, io.getenv, io.out)
	if err != nil && !errors.Is(err, flagenv.ErrHelp) {
		return usageError{err}
	}
	return err
}
