package localstack

import (
	"bufio"
	"errors"
	"fmt"
	"maps"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
)

// The files of a local stack, in its directory (.local of the checkout by
// default). The lock is held for as long as the stack runs: one stack per
// directory, and a stack that was killed leaves a lock anyone may take.
const (
	lockName      = "lock"
	stateName     = "stack"
	endpointsName = "emulators"
	logsName      = "logs"
	// eventsName is the local event bus, whose events last as long as the
	// ledger in DynamoDB Local's memory: one run.
	eventsName = "events.jsonl"
	// eventsFailuresName describes the event batches that failed past the
	// event source's limits (EventsFailureQueue in AWS).
	eventsFailuresName = "events-failures.jsonl"
)

// ErrRunning means another local stack holds the directory.
var ErrRunning = errors.New("a local stack is already running")

// ErrNotRunning means no local stack runs from the directory.
var ErrNotRunning = errors.New("no local stack is running")

// State is what a running local stack tells the other rewardctl commands:
// where its parts listen and the settings it runs with that a command
// needs (the platforms' addresses and keys, the webhook secrets). It is
// written as KEY=value lines that a shell can source.
type State struct {
	// Dir is the stack's directory (not written).
	Dir          string
	PID          int
	APIURL       string
	SimulatorURL string
	// SQSEndpoint and DynamoDBEndpoint are the emulators'.
	SQSEndpoint      string
	DynamoDBEndpoint string
	QueueURL         string
	DLQURL           string
	Table            string
	// LogFile is where the functions' log lines go.
	LogFile string
	// EventsFile is the local event bus: the reward events, a JSON line
	// each (SinkEvent).
	EventsFile string
	// Settings are function settings the stack chose or was given.
	Settings map[string]string
}

// fields maps the file's keys to State's fields.
func (s *State) fields() map[string]*string {
	return map[string]*string{
		"REWARDRELAY_API_URL": &s.APIURL, "REWARDRELAY_SIMULATOR_URL": &s.SimulatorURL, "REWARDRELAY_LOG_FILE": &s.LogFile, "REWARDRELAY_EVENTS_FILE": &s.EventsFile,
		"AWS_ENDPOINT_URL_SQS": &s.SQSEndpoint, "AWS_ENDPOINT_URL_DYNAMODB": &s.DynamoDBEndpoint,
		"QUEUE_URL": &s.QueueURL, "DLQ_URL": &s.DLQURL, "TABLE_NAME": &s.Table,
	}
}

func (s State) encode() []byte {
	vars := maps.Clone(s.Settings)
	if vars == nil {
		vars = map[string]string{}
	}
	for k, v := range s.fields() {
		vars[k] = *v
	}
	vars["REWARDRELAY_PID"] = strconv.Itoa(s.PID)
	var b strings.Builder
	for _, k := range slices.Sorted(maps.Keys(vars)) {
		fmt.Fprintf(&b, "%s=%s\n", k, vars[k])
	}
	return []byte(b.String())
}

func decodeState(dir string, raw []byte) State {
	s := State{Dir: dir, Settings: map[string]string{}}
	fields := s.fields()
	sc := bufio.NewScanner(strings.NewReader(string(raw)))
	for sc.Scan() {
		k, v, ok := strings.Cut(sc.Text(), "=")
		if !ok {
			continue
		}
		switch f := fields[k]; {
		case f != nil:
			*f = v
		case k == "REWARDRELAY_PID":
			s.PID, _ = strconv.Atoi(v)
		default:
			s.Settings[k] = v
		}
	}
	return s
}

// Claim is a stack's hold on its directory.
type Claim struct {
	dir  string
	lock *os.File
}

// ClaimDir takes dir for a new stack. It fails with ErrRunning, and
// changes nothing in dir, while another stack holds it; files that a
// killed stack left behind are removed.
func ClaimDir(dir string) (*Claim, error) {
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return nil, err
	}
	path := filepath.Join(dir, lockName)
	for {
		f, err := os.OpenFile(path, os.O_RDWR|os.O_CREATE, 0o600)
		if err != nil {
			return nil, err
		}
		ok, err := tryLock(f, true)
		if err != nil {
			f.Close()
			return nil, fmt.Errorf("lock %s: %w", path, err)
		}
		if !ok {
			f.Close()
			pid := ""
			if raw, err := os.ReadFile(path); err == nil {
				pid = strings.TrimSpace(string(raw))
			}
			return nil, &RunningError{Dir: dir, PID: pid}
		}
		// The stack that held it may have removed the file between our
		// open and our lock: then the lock is on a file nobody else sees.
		if still, err := sameFile(f, path); err != nil || !still {
			f.Close()
			continue
		}
		c := &Claim{dir: dir, lock: f}
		c.removeState()
		if err := f.Truncate(0); err == nil {
			_, _ = f.WriteAt([]byte(strconv.Itoa(os.Getpid())+"\n"), 0)
		}
		return c, nil
	}
}

// RunningError is ErrRunning with the directory and the holder's pid.
type RunningError struct {
	Dir string
	PID string
}

func (e *RunningError) Error() string {
	if e.PID == "" {
		return fmt.Sprintf("%s from %s", ErrRunning, e.Dir)
	}
	return fmt.Sprintf("%s from %s (pid %s)", ErrRunning, e.Dir, e.PID)
}

func (e *RunningError) Unwrap() error { return ErrRunning }

func sameFile(f *os.File, path string) (bool, error) {
	a, err := f.Stat()
	if err != nil {
		return false, err
	}
	b, err := os.Stat(path)
	if errors.Is(err, os.ErrNotExist) {
		return false, nil
	}
	if err != nil {
		return false, err
	}
	return os.SameFile(a, b), nil
}

// Path is a file of the claimed directory.
func (c *Claim) Path(name string) string { return filepath.Join(c.dir, name) }

// WriteState publishes the stack's state, whole or not at all.
func (c *Claim) WriteState(s State) error {
	tmp := c.Path(stateName + ".tmp")
	if err := os.WriteFile(tmp, s.encode(), 0o600); err != nil {
		return err
	}
	return os.Rename(tmp, c.Path(stateName))
}

func (c *Claim) removeState() {
	for _, name := range []string{stateName, stateName + ".tmp", endpointsName, endpointsName + ".tmp", eventsName, eventsFailuresName} {
		_ = os.Remove(c.Path(name))
	}
}

// Release removes the stack's files (its logs stay) and lets the directory
// go.
func (c *Claim) Release() {
	c.removeState()
	_ = os.Remove(c.Path(lockName))
	_ = c.lock.Close()
}

// Open returns the state of the stack running from dir. The error wraps
// ErrNotRunning when none does (and says whether one was killed there).
func Open(dir string) (State, error) {
	statePath := filepath.Join(dir, stateName)
	_, stateErr := os.Stat(statePath)
	left := ""
	if stateErr == nil {
		left = fmt.Sprintf(": %s is left from a stack that did not stop cleanly", statePath)
	}
	f, err := os.Open(filepath.Join(dir, lockName))
	if errors.Is(err, os.ErrNotExist) {
		return State{}, fmt.Errorf("%w from %s%s", ErrNotRunning, dir, left)
	}
	if err != nil {
		return State{}, err
	}
	defer f.Close()
	free, err := tryLock(f, false)
	if err != nil {
		return State{}, fmt.Errorf("lock %s: %w", f.Name(), err)
	}
	if free {
		return State{}, fmt.Errorf("%w from %s%s", ErrNotRunning, dir, left)
	}
	raw, err := os.ReadFile(statePath)
	if errors.Is(err, os.ErrNotExist) {
		return State{}, fmt.Errorf("the local stack of %s is still starting: try again in a moment", dir)
	}
	if err != nil {
		return State{}, err
	}
	return decodeState(dir, raw), nil
}
