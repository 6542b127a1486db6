package main

import (
	"bytes"
	"context"
	"encoding/json"
	"io"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/rewardrelay/rewardrelay/cmd/rewardctl/internal/localstack"
	"github.com/rewardrelay/rewardrelay/shared/awstest"
	"github.com/rewardrelay/rewardrelay/shared/simulator"
)

func TestBalancesJSONLines(t *testing.T) {
	var buf bytes.Buffer
	err := printBalances(&buf, []balanceLine{{Provider: "firstpromoter", Recipient: "promoter:123", Unit: "points", Available: 500, Fulfilled: 500, Redeemed: 200, Held: 100}}, true)
	if err != nil {
		t.Fatal(err)
	}
	want := `{"provider":"firstpromoter","recipient":"promoter:123","unit":"points","currency":"","pending":0,"available":500,"reversed":0,"fulfilled":500,"redeemed":200,"held":100}` + "\n"
	if buf.String() != want {
		t.Errorf("got %s want %s", buf.String(), want)
	}
}

func TestReadSampleNeedsAProvider(t *testing.T) {
	if _, err := readSample("../../events/env.json", ""); err == nil {
		t.Error("a file that is no sample was accepted without --provider")
	}
}

func TestMissingTableIsReportedClearly(t *testing.T) {
	useLocalStack(t, emulatorState(t, "no-such-table"))
	_, err := rewardctl(t, "balances")
	if err == nil || !strings.Contains(err.Error(), "no-such-table") || !strings.Contains(err.Error(), "missing table") {
		t.Errorf("got %v, want an error naming the table and its likely causes", err)
	}
}

func TestUnreachableEndpointIsReportedClearly(t *testing.T) {
	useLocalStack(t, localstack.State{DynamoDBEndpoint: "http://127.0.0.1:1", SQSEndpoint: "http://127.0.0.1:1", Table: "ledger"})
	ctx, cancel := context.WithTimeout(t.Context(), 20*time.Second)
	defer cancel()
	root := rootCommand()
	root.SetArgs([]string{"balances"})
	root.SetOut(io.Discard)
	err := root.ExecuteContext(ctx)
	if err == nil || !strings.Contains(err.Error(), "127.0.0.1:1") || !strings.Contains(err.Error(), "unreachable") {
		t.Errorf("got %v, want an error naming the endpoint", err)
	}
}

// useLocalStack makes st the running local stack the commands find: its
// state in a directory of its own, claimed as a running stack claims it.
func useLocalStack(t *testing.T, st localstack.State) string {
	t.Helper()
	dir := t.TempDir()
	c, err := localstack.ClaimDir(dir)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(c.Release)
	if st.PID == 0 {
		st.PID = os.Getpid()
	}
	if err := c.WriteState(st); err != nil {
		t.Fatal(err)
	}
	t.Setenv("REWARDRELAY_LOCAL_DIR", dir)
	t.Setenv("REWARDRELAY_TARGET", "")
	return dir
}

// emulatorState is a local stack on the test's emulators with the ledger
// table table.
func emulatorState(t *testing.T, table string) localstack.State {
	t.Helper()
	return localstack.State{SQSEndpoint: awstest.Require(t, awstest.SQSEndpoint), DynamoDBEndpoint: awstest.Require(t, awstest.DynamoDBEndpoint), Table: table}
}

// rewardctl runs the CLI in process and returns what it printed.
func rewardctl(t *testing.T, args ...string) (string, error) {
	t.Helper()
	return rewardctlIn(t, append([]string{"--env-file", "../../events/env.json"}, args...)...)
}

// rewardctlIn runs the CLI in process as it runs in the working directory.
func rewardctlIn(t *testing.T, args ...string) (string, error) {
	t.Helper()
	var out bytes.Buffer
	root := rootCommand()
	root.SetArgs(args)
	root.SetOut(&out)
	root.SetErr(&out)
	err := root.ExecuteContext(t.Context())
	return out.String(), err
}

func TestReconcileCommandDryRunThenRun(t *testing.T) {
	awstest.Require(t, awstest.DynamoDBEndpoint)
	_, table := awstest.Table(t)
	sim := simulator.New()
	srv := sim.Start()
	defer srv.Close()
	sim.PutCommission(simulator.FPCommission{ID: 77, Status: "approved", Unit: "points", Amount: 250, PromoterID: 12, RewardID: 1})
	sim.PutConversion(simulator.Conversion{ID: "conv-9", AffiliateID: "aff-9", Currency: "usd", CommissionAmount: 1200, Status: "approved"})
	st := emulatorState(t, table)
	st.Settings = map[string]string{
		"FIRSTPROMOTER_API_URL": simulator.FirstPromoterURL(srv.URL), "FIRSTPROMOTER_API_KEY": sim.APIKey,
		"FIRSTPROMOTER_ACCOUNT_ID": sim.AccountID, "AGENTREF_API_URL": simulator.AgentRefURL(srv.URL), "AGENTREF_API_KEY": sim.AgentKey,
	}
	useLocalStack(t, st)

	out, err := rewardctl(t, "reconcile", "--dry-run")
	if err != nil {
		t.Fatalf("%v\n%s", err, out)
	}
	for _, want := range []string{"would do (dry run", "firstpromoter  77", "new -> approved/requested", "+250", "mark_fulfilled on the platform", "agentref       conv-9", "+1200"} {
		if !strings.Contains(out, want) {
			t.Errorf("the dry run's output lacks %q:\n%s", want, out)
		}
	}
	if c, _ := sim.Commission(77); c.Fulfilled {
		t.Error("the dry run acknowledged commission 77")
	}
	if l, err := ledger(t.Context(), &options{}); err != nil || len(l.Commissions) != 0 {
		t.Errorf("the dry run wrote %d commissions (%v)", len(l.Commissions), err)
	}

	out, err = rewardctl(t, "reconcile", "--json")
	if err != nil {
		t.Fatalf("%v\n%s", err, out)
	}
	var report reconcileReport
	if err := json.Unmarshal([]byte(out), &report); err != nil {
		t.Fatalf("--json: %v\n%s", err, out)
	}
	if report.DryRun || !report.Run.Complete || len(report.Actions) != 4 {
		t.Errorf("report: %+v (want the delivery and acknowledgement of 77, the AgentRef approval, the mark_fulfilled call)", report)
	}
	if c, _ := sim.Commission(77); !c.Fulfilled {
		t.Error("the run did not acknowledge commission 77")
	}
	checkSnakeCase(t, "reconcile --json", out)
	out, err = rewardctl(t, "balances", "--json", "--recipient", "promoter:12")
	if err != nil || !strings.Contains(out, `"available":250,"reversed":0,"fulfilled":250`) {
		t.Errorf("balances after the run: %s %v", out, err)
	}
	checkSnakeCase(t, "balances --json", out)
	out, err = rewardctl(t, "commission", "firstpromoter", "77", "--json")
	if err != nil {
		t.Fatalf("%v\n%s", err, out)
	}
	checkSnakeCase(t, "commission --json", out)
	var c commissionReport
	if err := json.Unmarshal([]byte(out), &c); err != nil || c.Commission.Status != "approved" || c.Commission.Fulfilment != "acknowledged" || len(c.Entries) == 0 || c.Entries[0].At == "" {
		t.Errorf("commission --json: %+v %v", c, err)
	}
	if _, err := rewardctl(t, "commission", "firstpromoter", "78"); err == nil || !strings.Contains(err.Error(), "firstpromoter commission 78 is not in the ledger") {
		t.Errorf("an unknown commission: %v", err)
	}

	// A platform that refuses every call: a clear failure, non-zero.
	sim.SetFaultRate(1)
	out, err = rewardctl(t, "reconcile")
	if err == nil || !strings.Contains(err.Error(), "errors") || !strings.Contains(out, "error  ") {
		t.Errorf("a failing run: %v\n%s", err, out)
	}
}
