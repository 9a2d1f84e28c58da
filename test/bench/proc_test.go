package bench

import (
	"errors"
	"os"
	"strconv"
	"strings"
	"testing"
)

// clockTicks is Linux's USER_HZ, the unit of /proc/<pid>/stat's CPU times.
const clockTicks = 100

// cpuSeconds is the process's user+system CPU time so far.
func cpuSeconds(b *testing.B, pid int) float64 {
	b.Helper()
	s, err := readCPU(pid)
	if err != nil {
		b.Fatal(err)
	}
	return s
}

// readCPU reads the process's user+system CPU time so far, in seconds.
func readCPU(pid int) (float64, error) {
	raw, err := os.ReadFile("/proc/" + strconv.Itoa(pid) + "/stat")
	if err != nil {
		return 0, err
	}
	// Fields after the ")" closing the command name; utime and stime are the 14th and 15th.
	f := strings.Fields(string(raw[strings.LastIndexByte(string(raw), ')')+2:]))
	ut, _ := strconv.ParseFloat(f[11], 64)
	st, _ := strconv.ParseFloat(f[12], 64)
	return (ut + st) / clockTicks, nil
}

// readPSS reads the process's proportional set size (its private pages,
// and its share of those it shares, such as the binary's), in kB.
func readPSS(pid int) (float64, error) {
	raw, err := os.ReadFile("/proc/" + strconv.Itoa(pid) + "/smaps_rollup")
	if err != nil {
		return 0, err
	}
	for _, line := range strings.Split(string(raw), "\n") {
		if f := strings.Fields(line); len(f) == 3 && f[0] == "Pss:" {
			return strconv.ParseFloat(f[1], 64)
		}
	}
	return 0, errors.New("no Pss line in /proc/" + strconv.Itoa(pid) + "/smaps_rollup")
}

// procStatus returns the kB fields of /proc/<pid>/status (VmRSS, RssAnon,
// RssFile, VmHWM, ...).
func procStatus(b *testing.B, pid int) map[string]float64 {
	b.Helper()
	st, err := readStatus(pid)
	if err != nil {
		b.Fatal(err)
	}
	return st
}

// readStatus reads the kB fields of /proc/<pid>/status.
func readStatus(pid int) (map[string]float64, error) {
	raw, err := os.ReadFile("/proc/" + strconv.Itoa(pid) + "/status")
	if err != nil {
		return nil, err
	}
	kb := map[string]float64{}
	for _, line := range strings.Split(string(raw), "\n") {
		if f := strings.Fields(line); len(f) == 3 && f[2] == "kB" {
			v, _ := strconv.ParseFloat(f[1], 64)
			kb[strings.TrimSuffix(f[0], ":")] = v
		}
	}
	return kb, nil
}
