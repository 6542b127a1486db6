package main

import (
	"context"
	"io"
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
