package localstack

import (
	"context"
	"errors"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/rewardrelay/rewardrelay/shared/awstest"
)

// TestRunPublishesItsStateAndCleansUp runs what make run runs, on a free
// port with the test's emulators, and stops it as a signal does.
func TestRunPublishesItsStateAndCleansUp(t *testing.T) {
	e := Endpoints{SQS: awstest.Require(t, awstest.SQSEndpoint), DynamoDB: awstest.Require(t, awstest.DynamoDBEndpoint)}
	root, err := filepath.Abs("../../../..")
	if err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	done := make(chan error, 1)
	prefix := awstest.Name(t, "run")
	go func() {
		done <- Run(ctx, Config{Checkout: root, Dir: dir, Emulators: &e, Prefix: prefix, Stdout: io.Discard})
	}()
	var st State
	for deadline := time.Now().Add(30 * time.Second); ; time.Sleep(50 * time.Millisecond) {
		if st, err = Open(dir); err == nil {
			break
		}
		select {
		case err := <-done:
			t.Fatalf("the local stack stopped: %v", err)
		default:
		}
		if time.Now().After(deadline) {
			t.Fatalf("no state published: %v", err)
		}
	}
	if st.PID != os.Getpid() || st.APIURL == "" || st.SimulatorURL == "" || st.QueueURL == "" || st.DLQURL == "" || st.Table != prefix+"-ledger" ||
		st.SQSEndpoint != e.SQS || st.DynamoDBEndpoint != e.DynamoDB || st.LogFile != filepath.Join(dir, "logs", "functions.log") {
		t.Errorf("state: %+v", st)
	}
	for _, key := range []string{"FIRSTPROMOTER_API_URL", "FIRSTPROMOTER_API_KEY", "AGENTREF_API_URL", "AGENTREF_API_KEY", "FIRSTPROMOTER_WEBHOOK_SECRETS", "AGENTREF_WEBHOOK_SECRETS"} {
		if st.Settings[key] == "" {
			t.Errorf("the state lacks %s: %v", key, st.Settings)
		}
	}
	if s, err := FetchStats(ctx, st.APIURL); err != nil {
		t.Errorf("local stats: %v", err)
	} else if s.DynamoDBRequests == 0 {
		t.Errorf("no DynamoDB request counted, though the stack created its table and ran the reconciler: %+v", s)
	}
	cancel()
	select {
	case err := <-done:
		if err != nil {
			t.Errorf("stopping: %v", err)
		}
	case <-time.After(30 * time.Second):
		t.Fatal("the local stack did not stop")
	}
	if _, err := Open(dir); !errors.Is(err, ErrNotRunning) {
		t.Errorf("after the stop: %v, want ErrNotRunning", err)
	}
	for _, name := range []string{stateName, lockName} {
		if _, err := os.Stat(filepath.Join(dir, name)); !os.IsNotExist(err) {
			t.Errorf("%s is left behind: %v", name, err)
		}
	}
	if _, err := os.Stat(st.LogFile); err != nil {
		t.Errorf("the functions' log is gone: %v", err)
	}
	resp, err := http.Get(st.APIURL + "/_local/stats")
	if err == nil {
		resp.Body.Close()
		t.Error("the local API still answers after the stop")
	}
}
