package main

import (
	"context"
	"errors"
)

// errNotYet is returned by subcommands whose issue has not landed yet.
var errNotYet = errors.New("not implemented yet")

func runRehearse(context.Context, []string, stdio) error { return usageError{errNotYet} }
