package soak

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
