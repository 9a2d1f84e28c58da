package testenv

import (
	"fmt"
	"os"
	"testing"
)

// RunWithAgent is a TestMain body for packages that run the agent binary
// against the plane: if need is true it builds the binary and starts a
// plane, sets *plane and *binary, runs the tests, stops everything and
// returns the exit code. With need false it only runs the tests.
func RunWithAgent(m *testing.M, need bool, plane **Plane, binary *string) int {
	if !need {
		return m.Run()
	}
	dir, err := os.MkdirTemp("", "spot-handler-agent-")
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 1
	}
	defer os.RemoveAll(dir)
	if *binary, err = BuildAgent(dir); err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 1
	}
	if *plane, err = StartPlane(Options{}); err != nil {
		fmt.Fprintf(os.Stderr, "these tests need the local control plane: %v\n", err)
		return 1
	}
	defer (*plane).Stop()
	return m.Run()
}

// RunWithMotoAndAgent is RunWithAgent for packages that also need moto:
// it starts moto first (sets *m) and stops it after the tests. With
// -short it only runs the tests.
func RunWithMotoAndAgent(m *testing.M, short bool, moto **Moto, plane **Plane, binary *string) int {
	if short {
		return m.Run()
	}
	var err error
	if *moto, err = StartMotoProcess(); err != nil {
		fmt.Fprintf(os.Stderr, "these tests need moto: %v\n", err)
		return 1
	}
	defer (*moto).Stop()
	return RunWithAgent(m, true, plane, binary)
}
