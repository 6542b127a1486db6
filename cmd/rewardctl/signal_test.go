package main

import (
	"bytes"
	"errors"
	"net"
	"net/http"
	"net/http/httptest"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/rewardrelay/rewardrelay/cmd/rewardctl/internal/localstack"
	"github.com/rewardrelay/rewardrelay/shared/awstest"
)

// TestEverySignalStopsTheWholeLocalStack runs the local stack as a person
// does, as processes with their own emulators, and stops it the ways a
// person, a terminal or a process manager does: every process it started
// (the emulators' node and Java included) is gone, its ports are free and
// its state is removed, and a second stack never touches a running one.
func TestEverySignalStopsTheWholeLocalStack(t *testing.T) {
	// The emulators this test starts need what make test needs.
	awstest.Require(t, awstest.DynamoDBEndpoint)
	root, err := filepath.Abs("../..")
	if err != nil {
		t.Fatal(err)
	}
	bin := filepath.Join(t.TempDir(), "rewardctl")
	if out, err := exec.Command("go", "build", "-buildvcs=auto", "-o", bin, ".").CombinedOutput(); err != nil {
		t.Fatalf("go build: %v\n%s", err, out)
	}
	checkVersion(t, bin)

	t.Run("SIGTERM to make run", func(t *testing.T) {
		t.Parallel()
		dir := t.TempDir()
		make := exec.Command("make", "--no-print-directory", "run")
		make.Dir = root
		p := startStack(t, make, dir)
		p.signal(t, syscall.SIGTERM, false)
		p.checkStopped(t)
	})

	t.Run("SIGHUP to the terminal's process group", func(t *testing.T) {
		t.Parallel()
		dir := t.TempDir()
		p := startStack(t, exec.Command(bin, "local"), dir)
		p.signal(t, syscall.SIGHUP, true)
		p.checkStopped(t)
	})

	t.Run("Ctrl-C during the start-up reconcile, beside refused second stacks", func(t *testing.T) {
		t.Parallel()
		// A FirstPromoter that never answers: the start-up reconcile waits
		// on it until the stop cuts the call.
		called := make(chan struct{})
		var once sync.Once
		platform := httptest.NewServer(http.HandlerFunc(func(_ http.ResponseWriter, r *http.Request) {
			once.Do(func() { close(called) })
			<-r.Context().Done()
		}))
		defer platform.Close()
		dir := t.TempDir()
		first := exec.Command(bin, "local")
		first.Env = append(os.Environ(), "FIRSTPROMOTER_API_URL="+platform.URL)
		p := startStack(t, first, dir)
		select {
		case <-called:
		case <-time.After(time.Minute):
			t.Fatal("the start-up reconcile never called FirstPromoter")
		}
		before := stackFiles(t, dir)

		// A second stack on the same directory refuses, before anything.
		second := exec.Command(bin, "local", "--port", "0")
		second.Env = stackEnv(dir)
		out, err := second.CombinedOutput()
		if err == nil || !strings.Contains(string(out), "already running from "+dir) || !strings.Contains(string(out), "REWARDRELAY_LOCAL_DIR") {
			t.Errorf("a second stack on %s: %v\n%s", dir, err, out)
		}
		// One with its own directory on the first one's port refuses too.
		other := t.TempDir()
		third := exec.Command(bin, "local", "--port", portOf(t, p.state.APIURL))
		third.Env = stackEnv(other)
		out, err = third.CombinedOutput()
		if err == nil || !strings.Contains(string(out), "port "+portOf(t, p.state.APIURL)+" is in use") {
			t.Errorf("a stack on a taken port: %v\n%s", err, out)
		}
		if left, _ := os.ReadDir(other); len(left) != 0 {
			t.Errorf("the refused stack left %v in its directory", left)
		}
		if after := stackFiles(t, dir); !equalMaps(before, after) {
			t.Errorf("the refused stacks changed the running one's files: %v, now %v", before, after)
		}
		if _, err := localstack.FetchStats(t.Context(), p.state.APIURL); err != nil {
			t.Errorf("the first stack stopped answering: %v", err)
		}

		p.signal(t, syscall.SIGINT, true)
		p.checkStopped(t)
		log, err := os.ReadFile(p.state.LogFile)
		if err != nil {
			t.Fatal(err)
		}
		for line := range strings.Lines(string(log)) {
			if strings.Contains(line, `"level":"ERROR"`) {
				t.Errorf("an error line after Ctrl-C during the reconcile: %s", line)
			}
		}
	})
}

// stackProcess is a local stack started as a process.
type stackProcess struct {
	cmd   *exec.Cmd
	out   *syncBuffer
	dir   string
	state localstack.State
	// tree is every process of the stack while it ran.
	tree   []int
	exited chan error
	// stopTook is the time from the signal to the end of the process.
	stopTook time.Duration
}

func stackEnv(dir string) []string {
	var env []string
	for _, kv := range os.Environ() {
		k, _, _ := strings.Cut(kv, "=")
		switch {
		// The stack starts its own emulators; make's variables belong to
		// the make that runs the tests.
		case strings.HasPrefix(k, "AWS_"), k == "MAKEFLAGS", k == "MAKELEVEL", k == "MFLAGS", k == "PORT", k == "REWARDRELAY_LOCAL_DIR":
			continue
		}
		env = append(env, kv)
	}
	return append(env, "PORT=0", "REWARDRELAY_LOCAL_DIR="+dir)
}

// startStack starts cmd in a process group of its own, as a shell starts
// a foreground job, and waits until its stack runs from dir.
func startStack(t *testing.T, cmd *exec.Cmd, dir string) *stackProcess {
	t.Helper()
	if cmd.Env == nil {
		cmd.Env = os.Environ()
	}
	cmd.Env = append(stackEnv(dir), cmd.Env[len(os.Environ()):]...)
	p := &stackProcess{cmd: cmd, out: &syncBuffer{}, dir: dir, exited: make(chan error, 1)}
	cmd.Stdout, cmd.Stderr = p.out, p.out
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	go func() { p.exited <- cmd.Wait() }()
	t.Cleanup(func() {
		// Whatever happened, leave nothing running.
		_ = syscall.Kill(-cmd.Process.Pid, syscall.SIGKILL)
		for _, pid := range p.tree {
			_ = syscall.Kill(pid, syscall.SIGKILL)
		}
		if t.Failed() {
			t.Logf("output of %v:\n%s", cmd.Args, p.out.String())
		}
	})
	deadline := time.After(3 * time.Minute)
	for {
		st, err := localstack.Open(dir)
		if err == nil {
			p.state = st
			break
		}
		select {
		case err := <-p.exited:
			t.Fatalf("%v stopped before its stack ran: %v\n%s", cmd.Args, err, p.out.String())
		case <-deadline:
			t.Fatalf("%v: no stack runs from %s: %v\n%s", cmd.Args, dir, err, p.out.String())
		case <-time.After(100 * time.Millisecond):
		}
	}
	p.tree = processTree(t, cmd.Process.Pid)
	var names []string
	for _, pid := range p.tree {
		names = append(names, processName(pid))
	}
	for _, want := range []string{"rewardctl", "node", "java"} {
		if !contains(names, want) {
			t.Fatalf("no %s among the stack's processes %v (%v)", want, names, p.tree)
		}
	}
	return p
}

// signal sends sig to the stack's first process, or to its whole process
// group as a terminal does, and waits for the process to end.
func (p *stackProcess) signal(t *testing.T, sig syscall.Signal, group bool) {
	t.Helper()
	pid := p.cmd.Process.Pid
	if group {
		pid = -pid
	}
	start := time.Now()
	if err := syscall.Kill(pid, sig); err != nil {
		t.Fatal(err)
	}
	select {
	case err := <-p.exited:
		p.stopTook = time.Since(start)
		var exit *exec.ExitError
		// make, killed by the signal it forwarded, reports the signal.
		if err != nil && !(errors.As(err, &exit) && p.cmd.Args[0] == "make") {
			t.Errorf("%v after %v: %v", p.cmd.Args, sig, err)
		}
	case <-time.After(8 * time.Second):
		// The stop cuts every call short: a stop that waited for the
		// platform's call would take its client's 10-second timeout.
		t.Fatalf("%v still runs 8 s after %v", p.cmd.Args, sig)
	}
	t.Logf("%v stopped %v after %v", p.cmd.Args, p.stopTook.Round(time.Millisecond), sig)
}

// checkStopped checks that nothing of the stack is left: no process, no
// port taken, no state file; its logs stay.
func (p *stackProcess) checkStopped(t *testing.T) {
	t.Helper()
	for _, pid := range p.tree {
		// A process that has just ended may take a moment to be reaped.
		for i := 0; alive(pid) && i < 50; i++ {
			time.Sleep(100 * time.Millisecond)
		}
		if alive(pid) {
			t.Errorf("process %d (%s) is still running", pid, processName(pid))
		}
	}
	for _, u := range []string{p.state.APIURL, p.state.SimulatorURL, p.state.SQSEndpoint, p.state.DynamoDBEndpoint} {
		parsed, err := url.Parse(u)
		if err != nil {
			t.Fatal(err)
		}
		ln, err := net.Listen("tcp", parsed.Host)
		if err != nil {
			t.Errorf("%s is still taken: %v", parsed.Host, err)
			continue
		}
		ln.Close()
	}
	if left := stackFiles(t, p.dir); len(left) != 0 {
		t.Errorf("the stack left %v in %s", left, p.dir)
	}
	if _, err := os.Stat(p.state.LogFile); err != nil {
		t.Errorf("the functions' log is gone: %v", err)
	}
	for line := range strings.Lines(p.out.String()) {
		if strings.Contains(strings.ToLower(line), "error") {
			t.Errorf("%v printed an error: %s", p.cmd.Args, line)
		}
	}
}

// stackFiles are the files of a stack's directory but its logs.
func stackFiles(t *testing.T, dir string) map[string]string {
	t.Helper()
	out := map[string]string{}
	entries, err := os.ReadDir(dir)
	if err != nil {
		t.Fatal(err)
	}
	for _, e := range entries {
		if e.IsDir() {
			continue
		}
		raw, err := os.ReadFile(filepath.Join(dir, e.Name()))
		if err != nil {
			t.Fatal(err)
		}
		out[e.Name()] = string(raw)
	}
	return out
}

// processTree is pid and every process below it, from /proc where there
// is one, else from ps.
func processTree(t *testing.T, pid int) []int {
	t.Helper()
	parents := map[int][]int{}
	if entries, err := os.ReadDir("/proc"); err == nil {
		for _, e := range entries {
			child, err := strconv.Atoi(e.Name())
			if err != nil {
				continue
			}
			raw, err := os.ReadFile(filepath.Join("/proc", e.Name(), "stat"))
			if err != nil {
				continue
			}
			// pid (comm) state ppid ...: comm may hold spaces.
			fields := strings.Fields(string(raw[bytes.LastIndexByte(raw, ')')+1:]))
			if len(fields) > 1 {
				ppid, _ := strconv.Atoi(fields[1])
				parents[ppid] = append(parents[ppid], child)
			}
		}
	} else {
		out, err := exec.Command("ps", "-A", "-o", "pid=,ppid=").Output()
		if err != nil {
			t.Fatalf("neither /proc nor ps: %v", err)
		}
		for line := range strings.Lines(string(out)) {
			f := strings.Fields(line)
			if len(f) == 2 {
				child, _ := strconv.Atoi(f[0])
				ppid, _ := strconv.Atoi(f[1])
				parents[ppid] = append(parents[ppid], child)
			}
		}
	}
	tree := []int{pid}
	for i := 0; i < len(tree); i++ {
		tree = append(tree, parents[tree[i]]...)
	}
	return tree
}

// alive reports whether pid runs (a zombie has ended).
func alive(pid int) bool {
	if raw, err := os.ReadFile("/proc/" + strconv.Itoa(pid) + "/stat"); err == nil {
		fields := strings.Fields(string(raw[bytes.LastIndexByte(raw, ')')+1:]))
		return len(fields) > 0 && fields[0] != "Z"
	} else if _, statErr := os.Stat("/proc/self"); statErr == nil {
		return false
	}
	return syscall.Kill(pid, 0) == nil
}

func processName(pid int) string {
	if raw, err := os.ReadFile("/proc/" + strconv.Itoa(pid) + "/comm"); err == nil {
		return strings.TrimSpace(string(raw))
	}
	out, _ := exec.Command("ps", "-o", "comm=", "-p", strconv.Itoa(pid)).Output()
	return filepath.Base(strings.TrimSpace(string(out)))
}

func portOf(t *testing.T, rawURL string) string {
	t.Helper()
	u, err := url.Parse(rawURL)
	if err != nil {
		t.Fatal(err)
	}
	return u.Port()
}

func contains(list []string, s string) bool {
	for _, x := range list {
		if x == s {
			return true
		}
	}
	return false
}

func equalMaps(a, b map[string]string) bool {
	if len(a) != len(b) {
		return false
	}
	for k, v := range a {
		if w, ok := b[k]; !ok || w != v {
			return false
		}
	}
	return true
}

// syncBuffer is a bytes.Buffer two goroutines may write.
type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}

// checkVersion: --version names the module and the commit the toolchain
// stamped into the binary (none outside a git checkout).
func checkVersion(t *testing.T, bin string) {
	t.Helper()
	out, err := exec.Command(bin, "--version").Output()
	if err != nil {
		t.Fatalf("--version: %v", err)
	}
	meta, err := exec.Command("go", "version", "-m", bin).Output()
	if err != nil {
		t.Fatal(err)
	}
	commit := "commit unknown"
	if m := regexp.MustCompile(`vcs.revision=([0-9a-f]+)`).FindSubmatch(meta); m != nil {
		commit = "commit " + string(m[1])
	}
	if !strings.HasPrefix(string(out), "rewardctl github.com/rewardrelay/rewardrelay ") || !strings.Contains(string(out), commit) {
		t.Errorf("--version says %q, want the module and %q", out, commit)
	}
}
