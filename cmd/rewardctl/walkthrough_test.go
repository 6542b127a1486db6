package main

import (
	"context"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/rewardrelay/rewardrelay/cmd/rewardctl/internal/localstack"
	"github.com/rewardrelay/rewardrelay/shared/awstest"
)

// TestTheREADMEWalkThroughPrintsWhatItSays runs the README's first steps
// against the local stack as make run starts it: the balances it prints
// are the README's.
func TestTheREADMEWalkThroughPrintsWhatItSays(t *testing.T) {
	e := localstack.Endpoints{SQS: awstest.Require(t, awstest.SQSEndpoint), DynamoDB: awstest.Require(t, awstest.DynamoDBEndpoint)}
	readme, err := os.ReadFile("../../README.md")
	if err != nil {
		t.Fatal(err)
	}
	const steps = "go run ./cmd/rewardctl balances\n```\n\n```\n"
	i := strings.Index(string(readme), steps)
	if i < 0 {
		t.Fatal("the README's walk-through ends no longer with balances and its output")
	}
	want, _, _ := strings.Cut(string(readme[i+len(steps):]), "```")

	root, err := filepath.Abs("../..")
	if err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() {
		done <- localstack.Run(ctx, localstack.Config{Checkout: root, Dir: dir, Emulators: &e, Prefix: awstest.Name(t, "walk"), Stdout: io.Discard})
	}()
	t.Cleanup(func() {
		cancel()
		if err := <-done; err != nil {
			t.Errorf("the local stack: %v", err)
		}
	})
	t.Setenv("REWARDRELAY_LOCAL_DIR", dir)
	t.Setenv("REWARDRELAY_TARGET", "")
	// The banner is printed once the state is: the start-up reconcile
	// runs from then on, as it does before a person types the first send.
	waitFor(t, "the stack", func() bool { _, err := localstack.Open(dir); return err == nil })
	waitFor(t, "the start-up reconcile", func() bool {
		out, err := rewardctl(t, "balances")
		return err == nil && strings.Contains(out, "promoter:1001")
	})
	for _, sample := range []string{"firstpromoter-commission-approved.json", "agentref-conversion-created.json"} {
		if out, err := rewardctl(t, "send", "../../events/"+sample); err != nil || !strings.HasPrefix(out, "202 Accepted") {
			t.Fatalf("send %s: %v\n%s", sample, err, out)
		}
	}
	var got string
	waitFor(t, "the AgentRef conversion", func() bool {
		got, err = rewardctl(t, "balances")
		return err == nil && strings.Contains(got, "affiliate:aff_3Xp0")
	})
	if got != want {
		t.Errorf("balances prints:\n%s\nthe README says:\n%s", got, want)
	}

	// The README's calls of the local Rewards API, then rewardctl redeem.
	st, err := localstack.Open(dir)
	if err != nil {
		t.Fatal(err)
	}
	call := func(method, path, key, body string) (int, string) {
		t.Helper()
		req, err := http.NewRequestWithContext(t.Context(), method, st.APIURL+path, strings.NewReader(body))
		if err != nil {
			t.Fatal(err)
		}
		if key != "" {
			req.Header.Set("Idempotency-Key", key)
			req.Header.Set("Content-Type", "application/json")
		}
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		b, _ := io.ReadAll(resp.Body)
		return resp.StatusCode, string(b)
	}
	for _, c := range []struct {
		method, path, key, body string
		status                  int
		has                     string
	}{
		{"GET", "/v1/recipients/promoter:1001/balances", "", "", 200, `"available":500,`},
		{"POST", "/v1/recipients/promoter:1001/redemptions", "order-1001-1", `{"provider":"firstpromoter","unit":"points","amount":200,"hold":true}`, 201, `"id":"rdm_1e3f9e8a981520b9fd04cb9fe76eba7c"`},
		{"POST", "/v1/redemptions/rdm_1e3f9e8a981520b9fd04cb9fe76eba7c/capture", "", "", 200, `"status":"posted"`},
		{"GET", "/v1/recipients/promoter%3A1001/entries?limit=10", "", "", 200, `"kind":"redeem_capture"`},
	} {
		if status, body := call(c.method, c.path, c.key, c.body); status != c.status || !strings.Contains(body, c.has) {
			t.Errorf("%s %s: %d %s, want %d with %s", c.method, c.path, status, body, c.status, c.has)
		}
	}
	if out, err := rewardctl(t, "redeem", "promoter:1001", "100", "--provider", "firstpromoter", "--key", "order-1001-2"); err != nil || !strings.HasPrefix(out, "201 Created") {
		t.Errorf("redeem: %v\n%s", err, out)
	}
	if out, err := rewardctl(t, "balances", "--recipient", "promoter:1001", "--json"); err != nil || !strings.Contains(out, `"available":200,"reversed":0,"fulfilled":500,"redeemed":300,"held":0}`) {
		t.Errorf("balances after the redemptions: %v\n%s", err, out)
	}
	if out, err := rewardctl(t, "audit"); err != nil {
		t.Errorf("audit: %v\n%s", err, out)
	}
}

// waitFor polls cond until it holds; a minute is far more than any of the
// local stack's steps takes.
func waitFor(t *testing.T, what string, cond func() bool) {
	t.Helper()
	for deadline := time.Now().Add(time.Minute); !cond(); time.Sleep(100 * time.Millisecond) {
		if time.Now().After(deadline) {
			t.Fatalf("waited a minute for %s", what)
		}
	}
}
