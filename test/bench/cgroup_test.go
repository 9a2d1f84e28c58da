package bench

import (
	"bufio"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
)

// memCgroup is a memory cgroup of its own for one agent, below the bench
// process's own (cgroup v1's memory controller or v2), as a container
// runtime gives each container. We are root; a cgroup is how the kubelet
// sees a container's memory.
type memCgroup struct {
	dir string
	v2  bool
}

// newMemCgroup creates a fresh memory cgroup named name, removed in
// cleanup, with limit bytes (0: none).
func newMemCgroup(b *testing.B, name string, limit int64) *memCgroup {
	b.Helper()
	base, v2, err := ownMemCgroup()
	if err != nil {
		b.Fatalf("finding this process's memory cgroup (the footprint needs root and cgroup v1 or v2): %v", err)
	}
	c := &memCgroup{dir: filepath.Join(base, name), v2: v2}
	if err := os.Mkdir(c.dir, 0o755); err != nil {
		b.Fatalf("creating memory cgroup: %v", err)
	}
	b.Cleanup(func() { _ = syscall.Rmdir(c.dir) })
	if limit > 0 {
		file := "memory.limit_in_bytes"
		if v2 {
			file = "memory.max"
		}
		if err := os.WriteFile(filepath.Join(c.dir, file), []byte(strconv.FormatInt(limit, 10)), 0o644); err != nil {
			b.Fatalf("setting the cgroup's memory limit: %v", err)
		}
	}
	return c
}

// ownMemCgroup returns the folder of this process's memory cgroup and
// whether it is cgroup v2.
func ownMemCgroup() (string, bool, error) {
	raw, err := os.ReadFile("/proc/self/cgroup")
	if err != nil {
		return "", false, err
	}
	var v2path string
	for _, line := range strings.Split(strings.TrimSpace(string(raw)), "\n") {
		parts := strings.SplitN(line, ":", 3)
		if len(parts) != 3 {
			continue
		}
		for _, ctl := range strings.Split(parts[1], ",") {
			if ctl == "memory" {
				dir := filepath.Join("/sys/fs/cgroup/memory", parts[2])
				if _, err := os.Stat(filepath.Join(dir, "memory.stat")); err == nil {
					return dir, false, nil
				}
			}
		}
		if parts[0] == "0" && parts[1] == "" {
			v2path = parts[2]
		}
	}
	dir := filepath.Join("/sys/fs/cgroup", v2path)
	if _, err := os.Stat(filepath.Join(dir, "memory.stat")); err == nil {
		return dir, true, nil
	}
	return "", false, fmt.Errorf("no memory controller in /proc/self/cgroup:\n%s", raw)
}

// wrap writes a script that moves itself into the cgroup, sets env, and
// execs bin with its arguments, so the agent's every page is charged to the
// cgroup from its first instruction.
func (c *memCgroup) wrap(b *testing.B, bin string, env ...string) string {
	b.Helper()
	var s strings.Builder
	fmt.Fprintf(&s, "#!/bin/sh\necho $$ > %s || exit 1\n", filepath.Join(c.dir, "cgroup.procs"))
	for _, e := range env {
		fmt.Fprintf(&s, "export %q\n", e)
	}
	fmt.Fprintf(&s, "exec %q \"$@\"\n", bin)
	path := filepath.Join(b.TempDir(), "in-cgroup.sh")
	if err := os.WriteFile(path, []byte(s.String()), 0o755); err != nil {
		b.Fatal(err)
	}
	return path
}

// memSample is one reading of the cgroup's memory, in bytes.
type memSample struct {
	usage        float64 // all charged memory, file pages included
	inactiveFile float64
	anon         float64 // anonymous (rss in v1, anon in v2)
	file         float64 // page cache charged here
	majfaults    float64 // major page faults so far
}

// workingSet is what the kubelet reports and evicts by: usage minus
// inactive file pages.
func (m memSample) workingSet() float64 { return max(m.usage-m.inactiveFile, 0) }

// sample reads the cgroup's memory now.
func (c *memCgroup) sample() (memSample, error) {
	stat, err := readKeyed(filepath.Join(c.dir, "memory.stat"))
	if err != nil {
		return memSample{}, err
	}
	var m memSample
	if c.v2 {
		m.usage, err = readNumber(filepath.Join(c.dir, "memory.current"))
		m.inactiveFile, m.anon, m.file, m.majfaults = stat["inactive_file"], stat["anon"], stat["file"], stat["pgmajfault"]
	} else {
		m.usage, err = readNumber(filepath.Join(c.dir, "memory.usage_in_bytes"))
		m.inactiveFile, m.anon, m.file, m.majfaults = stat["total_inactive_file"], stat["total_rss"], stat["total_cache"], stat["total_pgmajfault"]
	}
	return m, err
}

// ooms returns how many processes the kernel killed for the cgroup's limit.
func (c *memCgroup) ooms() float64 {
	file := "memory.oom_control"
	if c.v2 {
		file = "memory.events"
	}
	kv, err := readKeyed(filepath.Join(c.dir, file))
	if err != nil {
		return -1
	}
	return kv["oom_kill"]
}

// readKeyed reads a "key value" per line file such as memory.stat.
func readKeyed(path string) (map[string]float64, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	out := map[string]float64{}
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		if k, v, ok := strings.Cut(sc.Text(), " "); ok {
			n, _ := strconv.ParseFloat(strings.TrimSpace(v), 64)
			out[k] = n
		}
	}
	return out, sc.Err()
}

// readNumber reads a file holding one number.
func readNumber(path string) (float64, error) {
	raw, err := os.ReadFile(path)
	if err != nil {
		return 0, err
	}
	return strconv.ParseFloat(strings.TrimSpace(string(raw)), 64)
}

// dropPageCache drops path's pages from the page cache (after writing back
// any dirty ones), so the next process to run it reads it from disk and its
// pages are charged to that process's cgroup, as in a fresh container.
func dropPageCache(b *testing.B, path string) {
	b.Helper()
	f, err := os.Open(path)
	if err != nil {
		b.Fatal(err)
	}
	defer f.Close()
	if err := f.Sync(); err != nil {
		b.Fatalf("syncing %s: %v", path, err)
	}
	const fadvDontNeed = 4 // POSIX_FADV_DONTNEED on Linux
	if _, _, errno := syscall.Syscall6(syscall.SYS_FADVISE64, f.Fd(), 0, 0, fadvDontNeed, 0, 0); errno != 0 {
		b.Fatalf("dropping %s from the page cache: %v", path, errno)
	}
}

const mib = 1 << 20
