package localstack

import (
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
)

func TestStateRoundTrips(t *testing.T) {
	want := State{Dir: "/x/.local", PID: 42, APIURL: "http://127.0.0.1:3000", SimulatorURL: "http://127.0.0.1:4000", SQSEndpoint: "http://127.0.0.1:1",
		DynamoDBEndpoint: "http://127.0.0.1:2", QueueURL: "q", DLQURL: "d", Table: "t", LogFile: "/x/.local/logs/functions.log",
		Settings: map[string]string{"FIRSTPROMOTER_API_KEY": "k", "AGENTREF_WEBHOOK_SECRETS": "whsec_a=="}}
	if diff := cmp.Diff(want, decodeState(want.Dir, want.encode())); diff != "" {
		t.Errorf("(-want +got):\n%s", diff)
	}
}

// TestASecondStackLeavesTheFirstAlone: a stack that cannot claim the
// directory refuses and changes nothing in it.
func TestASecondStackLeavesTheFirstAlone(t *testing.T) {
	dir := t.TempDir()
	first, err := ClaimDir(dir)
	if err != nil {
		t.Fatal(err)
	}
	if err := first.WriteState(State{PID: os.Getpid(), APIURL: "http://127.0.0.1:3000"}); err != nil {
		t.Fatal(err)
	}
	before := files(t, dir)
	_, err = ClaimDir(dir)
	var running *RunningError
	if !errors.As(err, &running) || !errors.Is(err, ErrRunning) || running.Dir != dir || !strings.Contains(err.Error(), "pid") {
		t.Fatalf("second claim: %v, want ErrRunning naming the directory and the first stack's pid", err)
	}
	if diff := cmp.Diff(before, files(t, dir)); diff != "" {
		t.Errorf("the refused stack changed the directory (-before +after):\n%s", diff)
	}
	st, err := Open(dir)
	if err != nil || st.APIURL != "http://127.0.0.1:3000" {
		t.Errorf("the first stack's state after the refusal: %+v, %v", st, err)
	}
	first.Release()
	if _, err := Open(dir); !errors.Is(err, ErrNotRunning) {
		t.Errorf("after the release: %v, want ErrNotRunning", err)
	}
	second, err := ClaimDir(dir)
	if err != nil {
		t.Fatalf("claim after the release: %v", err)
	}
	second.Release()
}

// TestAKilledStackIsNotRunning: a state file without a live owner (the
// stack was killed) is reported as such, and the next stack cleans it.
func TestAKilledStackIsNotRunning(t *testing.T) {
	dir := t.TempDir()
	if err := os.WriteFile(filepath.Join(dir, stateName), State{PID: 1, APIURL: "http://127.0.0.1:3000"}.encode(), 0o600); err != nil {
		t.Fatal(err)
	}
	_, err := Open(dir)
	if !errors.Is(err, ErrNotRunning) || !strings.Contains(err.Error(), "did not stop cleanly") {
		t.Errorf("got %v, want ErrNotRunning saying the stack did not stop cleanly", err)
	}
	c, err := ClaimDir(dir)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Release()
	if _, err := os.Stat(filepath.Join(dir, stateName)); !os.IsNotExist(err) {
		t.Errorf("the killed stack's state is still there: %v", err)
	}
}

func files(t *testing.T, dir string) map[string]string {
	t.Helper()
	out := map[string]string{}
	entries, err := os.ReadDir(dir)
	if err != nil {
		t.Fatal(err)
	}
	for _, e := range entries {
		raw, err := os.ReadFile(filepath.Join(dir, e.Name()))
		if err != nil {
			t.Fatal(err)
		}
		out[e.Name()] = string(raw)
	}
	return out
}
