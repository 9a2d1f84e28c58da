package testenv

import (
	"errors"
	"fmt"
	"net/http"
	"os"
	"os/exec"
	"syscall"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/credentials"
)

// MotoInstall is what to run where moto is missing.
const MotoInstall = "pip install 'moto[server]'"

// MotoRegion is the region tests use against moto.
const MotoRegion = "us-east-1"

// Moto is a running moto server, a simulator of AWS's APIs (SQS, EC2,
// EventBridge, Auto Scaling, ...), serving on loopback.
type Moto struct {
	// URL is the endpoint for every AWS client, e.g. http://127.0.0.1:PORT.
	URL  string
	proc *process
	dir  string
}

// python is the interpreter that runs moto: $SPOT_HANDLER_PYTHON or python3.
func python() string {
	if p := os.Getenv("SPOT_HANDLER_PYTHON"); p != "" {
		return p
	}
	return "python3"
}

// MotoAvailable says whether moto can be imported, and if not what to do.
func MotoAvailable() error {
	out, err := exec.Command(python(), "-c", "import moto.server, flask").CombinedOutput()
	if err != nil {
		return fmt.Errorf("moto (the AWS API simulator) is not importable by %s: %v: %s; install it with: %s", python(), err, out, MotoInstall)
	}
	return nil
}

// StartMotoProcess starts moto_server on a free loopback port and returns
// once it answers itself (its log shows the request). Stop it with Stop.
func StartMotoProcess() (*Moto, error) {
	if err := MotoAvailable(); err != nil {
		return nil, err
	}
	var m *Moto
	err := onFreePort(func(port int) (bool, error) {
		var err error
		m, err = startMotoOn(port)
		return m == nil && errors.Is(err, errPortLost), err
	})
	return m, err
}

// startMotoOn starts moto_server on port and waits until it answers.
func startMotoOn(port int) (*Moto, error) {
	dir, err := os.MkdirTemp("", "spot-handler-moto-")
	if err != nil {
		return nil, fmt.Errorf("creating moto folder: %w", err)
	}
	launcher, err := motoLauncher(dir) // moto_server plus the lifecycle calls it lacks
	if err != nil {
		os.RemoveAll(dir)
		return nil, err
	}
	args := append(launcher, "-H", "127.0.0.1", "-p", itoa(port))
	proc, err := startProcess("moto", dir, python(), args, []string{"HOME=" + dir, "PYTHONUNBUFFERED=1"})
	if err != nil {
		os.RemoveAll(dir)
		return nil, err
	}
	m := &Moto{URL: "http://127.0.0.1:" + itoa(port), proc: proc, dir: dir}
	err = waitFor(proc, 60*time.Second, func() error {
		if err := m.reset(); err != nil {
			return err
		}
		if !proc.logShows("/moto-api/reset") {
			return errors.New("answered, but not by this moto (its log shows no request)")
		}
		return nil
	})
	if err != nil {
		e := proc.failure("starting moto", err)
		if proc.lostPort() {
			e = fmt.Errorf("%w: %w", errPortLost, e)
		}
		m.Stop()
		return nil, e
	}
	return m, nil
}

// StartMoto starts moto for a test and stops it in cleanup; on failure the
// test's log gets moto's last lines.
func StartMoto(tb testing.TB) *Moto {
	tb.Helper()
	m, err := StartMotoProcess()
	if err != nil {
		tb.Fatalf("starting moto: %v", err)
	}
	tb.Cleanup(m.Stop)
	m.logOnFailure(tb)
	return m
}

// Use resets moto's state for a test (every queue, instance and rule is
// gone) and, if the test fails, logs moto's last lines.
func (m *Moto) Use(tb testing.TB) {
	tb.Helper()
	if err := m.reset(); err != nil {
		tb.Fatalf("resetting moto: %v\n%s", err, m.Log())
	}
	m.logOnFailure(tb)
}

func (m *Moto) logOnFailure(tb testing.TB) {
	tb.Cleanup(func() {
		if tb.Failed() {
			tb.Logf("--- last lines of moto's log ---\n%s", m.proc.logTail(40))
		}
	})
}

// reset asks moto to drop all state (POST /moto-api/reset).
func (m *Moto) reset() error {
	resp, err := http.Post(m.URL+"/moto-api/reset", "application/json", nil)
	if err != nil {
		return err
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return fmt.Errorf("POST /moto-api/reset: %s", resp.Status)
	}
	return nil
}

// Config is an AWS SDK configuration for moto: its endpoint, MotoRegion and
// static dummy credentials.
func (m *Moto) Config() aws.Config {
	return aws.Config{Region: MotoRegion, BaseEndpoint: aws.String(m.URL),
		Credentials: credentials.NewStaticCredentialsProvider("testing", "testing", ""),
		// No retries: a test sees moto's answer, not the SDK's patience.
		RetryMaxAttempts: 1}
}

// Env is the environment that points a child process's AWS SDK at moto.
func (m *Moto) Env() []string {
	return []string{"AWS_ENDPOINT_URL=" + m.URL, "AWS_REGION=" + MotoRegion, "AWS_ACCESS_KEY_ID=testing",
		"AWS_SECRET_ACCESS_KEY=testing", "AWS_EC2_METADATA_DISABLED=true"}
}

// Log returns moto's output so far (it logs every request).
func (m *Moto) Log() string { return m.proc.logTail(200) }

// PID is moto's process id.
func (m *Moto) PID() int { return m.proc.cmd.Process.Pid }

// Stop ends moto and removes its folder.
func (m *Moto) Stop() {
	m.proc.stop(2 * time.Second)
	os.RemoveAll(m.dir)
}

// Pause stops moto answering (SIGSTOP), as an unreachable AWS endpoint;
// Resume continues it.
func (m *Moto) Pause() error { return m.signal(syscall.SIGSTOP) }

// Resume undoes Pause.
func (m *Moto) Resume() error { return m.signal(syscall.SIGCONT) }

func (m *Moto) signal(s syscall.Signal) error {
	if err := syscall.Kill(-m.proc.cmd.Process.Pid, s); err != nil {
		return fmt.Errorf("sending %v to moto: %w", s, err)
	}
	return nil
}
