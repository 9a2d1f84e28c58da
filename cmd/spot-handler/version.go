package main

import (
	"context"
	"flag"
	"fmt"

	"github.com/spot-handler/spot-handler/internal/flagenv"
	"github.com/spot-handler/spot-handler/internal/version"
)

// runVersion prints the version, commit and Go version set at link time.
func runVersion(_ context.Context, args []string, io stdio) error {
	fs := flag.NewFlagSet("version", flag.ContinueOnError)
	fs.Usage = flagenv.Usage(fs, "spot-handler version", "Print the version, commit and Go version of this build.", envPrefix)
	if err := parseFlags(fs, args, io); err != nil {
		return err
	}
	fmt.Fprintf(io.out, "spot-handler %s (commit %s, %s)\n", version.Version, version.Commit, version.GoVersion())
	return nil
}
