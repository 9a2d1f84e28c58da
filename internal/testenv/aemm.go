package testenv

import (
	"errors"
	"fmt"
	"net/http"
	"os"
	"testing"
	"time"
)

// AEMM is a running amazon-ec2-metadata-mock, AWS's instance metadata
// simulator, serving on loopback.
type AEMM struct {
	// URL is the endpoint to point an IMDS client at, e.g. http://127.0.0.1:PORT.
	URL  string
	proc *process
	dir  string
}

// StartAEMM starts AEMM for a test with the given arguments (a scenario such
// as "spot" and its flags; "-n" and "-p" are added) and stops it in cleanup.
func StartAEMM(tb testing.TB, args ...string) *AEMM {
	tb.Helper()
	a, err := StartAEMMProcess(args...)
	if err != nil {
		tb.Fatalf("starting amazon-ec2-metadata-mock: %v", err)
	}
	tb.Cleanup(a.Stop)
	return a
}

// StartAEMMProcess starts AEMM on a free loopback port with args and returns
// once it answers HTTP itself (its log shows the request: another process
// that took the port between its choice and AEMM's bind would answer too).
// Its HOME is a temp folder, since it writes its config there.
func StartAEMMProcess(args ...string) (*AEMM, error) {
	bin, err := Binary("ec2-metadata-mock", AEMMVersion)
	if err != nil {
		return nil, err
	}
	var a *AEMM
	err = onFreePort(func(port int) (bool, error) {
		a, err = startAEMMOn(bin, port, args)
		return a == nil && errors.Is(err, errPortLost), err
	})
	return a, err
}

// errPortLost marks a child that exited because its port was taken.
var errPortLost = errors.New("the port was taken before the child could bind it")

// startAEMMOn starts AEMM on port and waits until it answers.
func startAEMMOn(bin string, port int, args []string) (*AEMM, error) {
	dir, err := os.MkdirTemp("", "spot-handler-aemm-")
	if err != nil {
		return nil, fmt.Errorf("creating AEMM folder: %w", err)
	}
	full := append(append([]string{}, args...), "-n", "127.0.0.1", "-p", itoa(port))
	proc, err := startProcess("aemm", dir, bin, full, []string{"HOME=" + dir})
	if err != nil {
		os.RemoveAll(dir)
		return nil, err
	}
	a := &AEMM{URL: "http://127.0.0.1:" + itoa(port), proc: proc, dir: dir}
	err = waitFor(proc, 20*time.Second, func() error {
		resp, err := http.Get(a.URL + "/latest/meta-data/")
		if err != nil {
			return err
		}
		resp.Body.Close()
		if !proc.logShows("Received request") {
			return errors.New("answered, but not by this AEMM (its log shows no request)")
		}
		return nil
	})
	if err != nil {
		e := proc.failure("starting AEMM", err)
		if proc.lostPort() {
			e = fmt.Errorf("%w: %w", errPortLost, e)
		}
		a.Stop()
		return nil, e
	}
	return a, nil
}

// Log returns AEMM's output so far (it logs every request).
func (a *AEMM) Log() string { return a.proc.logTail(200) }

// Stop ends AEMM and removes its folder.
func (a *AEMM) Stop() {
	a.proc.stop(2 * time.Second)
	os.RemoveAll(a.dir)
}
