package main

import (
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"sync/atomic"
	"testing"

	"github.com/rewardrelay/rewardrelay/cmd/rewardctl/internal/localstack"
)

// awsRecorder stands in for AWS: it counts the requests that reach it and
// refuses them all.
func awsRecorder(t *testing.T) *atomic.Int64 {
	t.Helper()
	var n atomic.Int64
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
		n.Add(1)
		w.WriteHeader(http.StatusForbidden)
	}))
	t.Cleanup(srv.Close)
	// What a shell with real AWS settings would hold.
	for k, v := range map[string]string{
		"AWS_ENDPOINT_URL_DYNAMODB": srv.URL, "AWS_ENDPOINT_URL_SQS": srv.URL, "AWS_ACCESS_KEY_ID": "AKIAREALLOOKING", "AWS_SECRET_ACCESS_KEY": "real",
		"AWS_REGION": "eu-west-1", "TABLE_NAME": "prod-ledger", "QUEUE_URL": srv.URL + "/q", "DLQ_URL": srv.URL + "/dlq", "REWARDRELAY_TARGET": "",
	} {
		t.Setenv(k, v)
	}
	return &n
}

// TestNoLocalStackIsAnErrorNeverAWS: with no local stack, or one that was
// killed and left its state behind, every command that reads a stack says
// so and sends nothing to AWS, however AWS is configured.
func TestNoLocalStackIsAnErrorNeverAWS(t *testing.T) {
	calls := awsRecorder(t)
	killed := t.TempDir()
	if err := os.WriteFile(filepath.Join(killed, "stack"), []byte("REWARDRELAY_API_URL=http://127.0.0.1:1\nTABLE_NAME=rewardrelay-ledger\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	for _, tt := range []struct{ name, dir, says string }{
		{"no stack", t.TempDir(), "make run"},
		{"a killed stack", killed, "did not stop cleanly"},
	} {
		dir := tt.dir
		t.Run(tt.name, func(t *testing.T) {
			t.Setenv("REWARDRELAY_LOCAL_DIR", dir)
			for _, args := range [][]string{{"balances"}, {"audit"}, {"drift"}, {"commission", "firstpromoter", "1"}, {"dlq"}, {"dlq", "redrive"}, {"reconcile"}, {"send", "../../events/firstpromoter-commission-approved.json"}, {"simulate"}} {
				_, err := rewardctl(t, args...)
				if err == nil || !strings.Contains(err.Error(), "no local stack is running from "+dir) || !strings.Contains(err.Error(), tt.says) || !strings.Contains(err.Error(), "--aws") {
					t.Errorf("%v: %v, want an error naming %s, saying %q and the way to AWS", args, err, dir, tt.says)
				}
			}
			if n := calls.Load(); n != 0 {
				t.Errorf("%d requests reached AWS", n)
			}
		})
	}
}

// TestALocalStateWithoutEndpointsNeverReachesAWS: a client without an
// endpoint would go to AWS's own.
func TestALocalStateWithoutEndpointsNeverReachesAWS(t *testing.T) {
	calls := awsRecorder(t)
	useLocalStack(t, localstack.State{Table: "rewardrelay-ledger"})
	if _, err := rewardctl(t, "balances"); err == nil || !strings.Contains(err.Error(), "names no emulator endpoints") {
		t.Errorf("got %v, want the state's missing endpoints named", err)
	}
	if n := calls.Load(); n != 0 {
		t.Errorf("%d requests reached AWS", n)
	}
}

// TestAWSIsAnExplicitChoice: --aws and REWARDRELAY_TARGET=aws reach AWS;
// anything else is refused.
func TestAWSIsAnExplicitChoice(t *testing.T) {
	calls := awsRecorder(t)
	t.Setenv("REWARDRELAY_LOCAL_DIR", t.TempDir())
	if _, err := rewardctl(t, "--aws", "balances"); err == nil || !strings.Contains(err.Error(), "prod-ledger") {
		t.Errorf("--aws balances: %v, want AWS's refusal for the table", err)
	}
	if calls.Load() == 0 {
		t.Error("--aws sent nothing to AWS")
	}
	before := calls.Load()
	t.Setenv("REWARDRELAY_TARGET", "aws")
	if _, err := rewardctl(t, "balances"); err == nil || calls.Load() == before {
		t.Errorf("REWARDRELAY_TARGET=aws: %v, %d requests", err, calls.Load()-before)
	}
	if _, err := rewardctl(t, "--aws", "--local", "balances"); err == nil || !strings.Contains(err.Error(), "exclude") {
		t.Errorf("--aws --local: %v", err)
	}
	t.Setenv("REWARDRELAY_TARGET", "prod")
	if _, err := rewardctl(t, "balances"); err == nil || !strings.Contains(err.Error(), `REWARDRELAY_TARGET="prod"`) {
		t.Errorf("REWARDRELAY_TARGET=prod: %v", err)
	}
	if _, err := rewardctl(t, "--aws", "simulate"); err == nil || !strings.Contains(err.Error(), "never AWS") {
		t.Errorf("--aws simulate: %v", err)
	}
}

// TestTheLocalStackIsFoundFromAnyDirectoryOfTheCheckout: the commands find
// the checkout's .local from a subdirectory, and say where they looked
// outside a checkout.
func TestTheLocalStackIsFoundFromAnyDirectoryOfTheCheckout(t *testing.T) {
	calls := awsRecorder(t)
	t.Setenv("REWARDRELAY_LOCAL_DIR", "")
	var local atomic.Int64
	db := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
		local.Add(1)
		w.WriteHeader(http.StatusBadRequest)
	}))
	defer db.Close()
	root := t.TempDir()
	for _, f := range []string{"template.yaml", "emulators/run.js", "events/env.json"} {
		raw, err := os.ReadFile(filepath.Join("../..", f))
		if err != nil {
			t.Fatal(err)
		}
		if err := os.MkdirAll(filepath.Dir(filepath.Join(root, f)), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(filepath.Join(root, f), raw, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	c, err := localstack.ClaimDir(filepath.Join(root, ".local"))
	if err != nil {
		t.Fatal(err)
	}
	defer c.Release()
	if err := c.WriteState(localstack.State{PID: os.Getpid(), DynamoDBEndpoint: db.URL, SQSEndpoint: db.URL, Table: "rewardrelay-ledger"}); err != nil {
		t.Fatal(err)
	}
	sub := filepath.Join(root, "shared", "relay")
	if err := os.MkdirAll(sub, 0o755); err != nil {
		t.Fatal(err)
	}
	t.Chdir(sub)
	_, err = rewardctlIn(t, "balances")
	if local.Load() == 0 || err == nil || !strings.Contains(err.Error(), "the local stack of "+filepath.Join(root, ".local")) {
		t.Errorf("balances from %s: %v (%d requests to the local stack), want the checkout's stack", sub, err, local.Load())
	}
	outside := t.TempDir()
	t.Chdir(outside)
	_, err = rewardctlIn(t, "balances")
	if err == nil || !strings.Contains(err.Error(), outside+" is not inside a rewardrelay checkout") || !strings.Contains(err.Error(), "REWARDRELAY_LOCAL_DIR") {
		t.Errorf("balances outside a checkout: %v, want where it looked and what to do", err)
	}
	if n := calls.Load(); n != 0 {
		t.Errorf("%d requests reached AWS", n)
	}
}
