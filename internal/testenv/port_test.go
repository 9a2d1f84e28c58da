package testenv

import (
	"errors"
	"net"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
)

// impostor serves every path on a loopback port with 200, as a concurrent
// test's server that took the port a peer was about to bind would.
func impostor(t *testing.T) (port int) {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	s := httptest.NewUnstartedServer(http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {}))
	s.Listener.Close()
	s.Listener = l
	s.Start()
	t.Cleanup(s.Close)
	return l.Addr().(*net.TCPAddr).Port
}

// TestAEMMOnATakenPortIsNotReady: AEMM started on a port another server
// holds panics on bind, while the other server answers the readiness check.
// The start must see that AEMM did not answer, and say the port was lost
// (so StartAEMMProcess tries a new one), not hand out the impostor's URL.
func TestAEMMOnATakenPortIsNotReady(t *testing.T) {
	if testing.Short() {
		t.Skip("-short: starts amazon-ec2-metadata-mock")
	}
	bin, err := Binary("ec2-metadata-mock", AEMMVersion)
	if err != nil {
		t.Fatalf("%v (run make tools)", err)
	}
	a, err := startAEMMOn(bin, impostor(t), []string{"spot"})
	if err == nil {
		a.Stop()
		t.Fatalf("AEMM on a taken port reported ready at %s", a.URL)
	}
	if !errors.Is(err, errPortLost) {
		t.Fatalf("error %v; want errPortLost", err)
	}
}

// TestMotoOnATakenPortIsNotReady is the same for moto_server.
func TestMotoOnATakenPortIsNotReady(t *testing.T) {
	if testing.Short() {
		t.Skip("-short: starts moto")
	}
	if err := MotoAvailable(); err != nil {
		t.Fatal(err)
	}
	m, err := startMotoOn(impostor(t))
	if err == nil {
		m.Stop()
		t.Fatalf("moto on a taken port reported ready at %s", m.URL)
	}
	if !errors.Is(err, errPortLost) {
		t.Fatalf("error %v; want errPortLost", err)
	}
}

// TestOnFreePortRetriesOnlyALostPort: a lost port is tried again with a new
// one, up to three times; any other failure is returned at once.
func TestOnFreePortRetriesOnlyALostPort(t *testing.T) {
	for _, tc := range []struct {
		name  string
		lost  int // tries that lose their port before one that does not
		other bool
		tries int
		fail  string
	}{
		{name: "first try", tries: 1},
		{name: "lost once", lost: 1, tries: 2},
		{name: "lost every time", lost: 5, tries: 3, fail: "lost"},
		{name: "other failure", other: true, tries: 1, fail: "other"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			tries := 0
			err := onFreePort(func(int) (bool, error) {
				tries++
				switch {
				case tries <= tc.lost:
					return true, errors.New("lost")
				case tc.other:
					return false, errors.New("other")
				}
				return false, nil
			})
			if tries != tc.tries || (err == nil) != (tc.fail == "") || (err != nil && !strings.Contains(err.Error(), tc.fail)) {
				t.Errorf("%d tries, error %v; want %d tries, error %q", tries, err, tc.tries, tc.fail)
			}
		})
	}
}
