// Package controller tests `spot-handler controller` as a subprocess
// against the real local control plane (kwok nodes, one per simulated EC2
// instance, with the matching providerID) and moto, AWS's API simulator
// (SQS, EC2, EventBridge).
package controller

import (
	"flag"
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
	os.Exit(testenv.RunWithMotoAndAgent(m, testing.Short(), &moto, &plane, &binary))
}
