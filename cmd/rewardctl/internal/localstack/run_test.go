package localstack

import (
	"context"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/rewardrelay/rewardrelay/shared/awstest"
)

// TestLocalStackWritesItsAddressesAndCleansUp runs what make run runs, on a
// free port, and stops it as Ctrl-C does.
func TestLocalStackWritesItsAddressesAndCleansUp(t *testing.T) {
	awstest.Require(t, awstest.SQSEndpoint)
	awstest.Require(t, awstest.DynamoDBEndpoint)
	root, err := filepath.Abs("../../../..")
	if err != nil {
		t.Fatal(err)
	}
	t.Chdir(t.TempDir())
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	done := make(chan error, 1)
	go func() {
		done <- Run(ctx, Config{Template: filepath.Join(root, "template.yaml"), EnvFile: filepath.Join(root, "events/env.json"), Stdout: io.Discard})
	}()
	var stack string
	for deadline := time.Now().Add(30 * time.Second); time.Now().Before(deadline); time.Sleep(50 * time.Millisecond) {
		if raw, err := os.ReadFile(StackFile); err == nil {
			stack = string(raw)
			break
		}
		select {
		case err := <-done:
			t.Fatalf("the local stack stopped: %v", err)
		default:
		}
	}
	for _, key := range []string{"REWARDRELAY_API_URL=http://127.0.0.1:", "REWARDRELAY_SIMULATOR_URL=", "QUEUE_URL=", "DLQ_URL=", "TABLE_NAME=rewardrelay-ledger", "FIRSTPROMOTER_API_URL=", "AGENTREF_API_KEY="} {
		if !strings.Contains(stack, key) {
			t.Errorf("%s lacks %s:\n%s", StackFile, key, stack)
		}
	}
	api := strings.TrimPrefix(lineWith(stack, "REWARDRELAY_API_URL="), "REWARDRELAY_API_URL=")
	if st, err := FetchStats(ctx, strings.TrimSpace(api)); err != nil {
		t.Errorf("local stats: %v", err)
	} else if st.DynamoDBRequests == 0 {
		t.Errorf("no DynamoDB request counted, though the stack created its table and ran the reconciler: %+v", st)
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
	if _, err := os.Stat(StackFile); !os.IsNotExist(err) {
		t.Errorf("%s is left behind: %v", StackFile, err)
	}
	resp, err := http.Get(strings.TrimSpace(api) + "/_local/stats")
	if err == nil {
		resp.Body.Close()
		t.Error("the local API still answers after the stop")
	}
}

func lineWith(text, part string) string {
	for line := range strings.Lines(text) {
		if strings.Contains(line, part) {
			return line
		}
	}
	return ""
}
