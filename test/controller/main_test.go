// Package controller tests `spot-handler controller` as a subprocess
// against the real local control plane (kwok nodes, one per simulated EC2
// instance, with the matching providerID) and moto, AWS's API simulator
// (SQS, EC2, EventBridge).
package controller

import (
	"flag"
	"fmt"
	"os"
	"testing"

	"github.com/spot-handler/spot-handler/internal/testenv"
)

var (
	plane  *testenv.Plane
	moto   *testenv.Moto
	binary string
)

func TestMain(m *testing.M) {
	flag.Parse()
	os.Exit(run(m))
}

func run(m *testing.M) int {
	if testing.Short() {
		return m.Run()
	}
	var err error
	if moto, err = testenv.StartMotoProcess(); err != nil {
		fmt.Fprintf(os.Stderr, "these tests need moto: %v\n", err)
		return 1
	}
	defer moto.Stop()
	return testenv.RunWithAgent(m, true, &plane, &binary)
}
