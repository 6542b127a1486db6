package main

import (
	"bytes"
	"context"
	"errors"
	"maps"
	"net"
	"os"
	"path/filepath"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/aws/aws-lambda-go/events"
	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/sqs"

	"github.com/rewardrelay/rewardrelay/cmd/rewardctl/internal/localstack"
	"github.com/rewardrelay/rewardrelay/shared/awstest"
	"github.com/rewardrelay/rewardrelay/shared/simulator"
	"github.com/rewardrelay/rewardrelay/shared/stack"
	"github.com/rewardrelay/rewardrelay/shared/telemetry"
)

// testStack is the local stack in process, as make run starts it, with
// its addresses exported the way .local/stack exports them.
type testStack struct {
	*localstack.Stack
	sim     *simulator.Simulator
	state   localstack.State
	batches atomic.Int64
	// crashAt makes that batch (counted from 1) apply half its messages
	// and then fail, like an invocation that dies mid-batch.
	crashAt int64
}

func startTestStack(t *testing.T, prefix string) *testStack {
	t.Helper()
	e := localstack.Endpoints{SQS: awstest.Require(t, awstest.SQSEndpoint), DynamoDB: awstest.Require(t, awstest.DynamoDBEndpoint)}
	ctx, cancel := context.WithCancel(context.Background())
	tpl, err := stack.Load("../../template.yaml")
	if err != nil {
		t.Fatal(err)
	}
	settings, err := localstack.LoadSettings("../../events/env.json")
	if err != nil {
		t.Fatal(err)
	}
	stats := &localstack.Stats{}
	// The stack's warnings and errors, shown when the test fails.
	logPath := filepath.Join(t.TempDir(), "functions.log")
	logFile, err := os.Create(logPath)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		logFile.Close()
		if t.Failed() {
			if raw, err := os.ReadFile(logPath); err == nil {
				t.Logf("the local stack's warnings and errors:\n%s", tail(string(raw), 8000))
			}
		}
	})
	ts := &testStack{sim: simulator.New()}
	srv := ts.sim.Start()
	platform := map[string]string{
		"FIRSTPROMOTER_API_URL": simulator.FirstPromoterURL(srv.URL), "FIRSTPROMOTER_API_KEY": ts.sim.APIKey, "FIRSTPROMOTER_ACCOUNT_ID": ts.sim.AccountID,
		"AGENTREF_API_URL": simulator.AgentRefURL(srv.URL), "AGENTREF_API_KEY": ts.sim.AgentKey,
	}
	ts.Stack = &localstack.Stack{
		Template: tpl, SQS: localstack.SQS(e), DynamoDB: localstack.DynamoDB(e, stats.CountDynamoDB), Stats: stats,
		Log: telemetry.NewLogger(logFile, "WARN"), Prefix: awstest.Name(t, prefix), NoSchedule: true,
		Streams: localstack.Streams(e), EventsDB: localstack.DynamoDB(e), EventsFile: filepath.Join(t.TempDir(), "events.jsonl"),
		Get: func(key string) string {
			if v, ok := platform[key]; ok {
				return v
			}
			return settings.Get(key)
		},
		WrapProcessor: func(inner localstack.SQSHandler) localstack.SQSHandler {
			return func(ctx context.Context, ev events.SQSEvent) (events.SQSEventResponse, error) {
				if ts.batches.Add(1) == ts.crashAt && len(ev.Records) > 1 {
					_, _ = inner(ctx, events.SQSEvent{Records: ev.Records[:len(ev.Records)/2]})
					return events.SQSEventResponse{}, errors.New("runtime exited mid-batch")
				}
				return inner(ctx, ev)
			}
		},
	}
	s := ts.Stack
	if err := s.Provision(ctx); err != nil {
		t.Fatal(err)
	}
	// Redeliveries after a failure in seconds rather than the deployed 3 minutes.
	if _, err := s.SQS.SetQueueAttributes(ctx, &sqs.SetQueueAttributesInput{QueueUrl: aws.String(s.QueueURL), Attributes: map[string]string{"VisibilityTimeout": "2"}}); err != nil {
		t.Fatal(err)
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	ts.state = localstack.State{APIURL: "http://" + ln.Addr().String(), SimulatorURL: srv.URL, SQSEndpoint: e.SQS, DynamoDBEndpoint: e.DynamoDB,
		QueueURL: s.QueueURL, DLQURL: s.DLQURL, Table: s.Table, EventsFile: s.EventsFile, Settings: platform}
	useLocalStack(t, ts.state)
	serving := make(chan error, 1)
	go func() { serving <- s.Serve(ctx, ln) }()
	t.Cleanup(func() {
		cancel()
		if err := <-serving; err != nil {
			t.Errorf("the local stack: %v", err)
		}
		srv.Close()
	})
	return ts
}

var testOptions = &options{template: "../../template.yaml", envFile: "../../events/env.json"}

// TestEndToEnd is rewardctl simulate against the whole local stack in
// process: 300 commissions over both platforms, each webhook delivered 1-3
// times in random order, every webhook of 10% of the commissions lost, 20%
// platform faults, a processor crash mid-batch, then reconciler runs. The
// ledger must equal the ground truth, every approved FirstPromoter
// commission be acknowledged and no denied one, the audit clean and the
// dead-letter queue empty; every posted reward must have produced exactly
// one distinct Reward Posted id on the local bus, and every reversal one
// Reward Reversed.
func TestEndToEnd(t *testing.T) {
	ts := startTestStack(t, "e2e")
	ts.crashAt = 3
	var out bytes.Buffer
	var progress []int
	sim := simulation{commissions: 300, copies: 3, lost: 0.1, faults: 0.2, concurrency: 8, load: true, seed: uint64(time.Now().UnixNano()), drainTimeout: 3 * time.Minute,
		onProcessed: func(done, total int) { progress = append(progress, done, total) }}
	err := sim.run(t.Context(), testOptions, &out)
	t.Log(out.String())
	if err != nil {
		t.Fatal(err)
	}
	for _, figure := range []string{"webhook latency  ", "delivery to acknowledgement  ", "platform requests per fulfilled reward  ", "DynamoDB requests per event  "} {
		if line := lineWith(out.String(), figure); line == "" || strings.Contains(line, "unavailable") || strings.Contains(line, "n/a") {
			t.Errorf("load figure %q missing or unmeasured: %q", figure, line)
		}
	}
	if !strings.Contains(out.String(), "reward events: 0 differences") {
		t.Error("the reward events were not checked")
	}
	for _, figure := range []string{"events published per second per invocation  ", "PutEvents requests per 100 entries  ", "ledger-to-bus lag  "} {
		if line := lineWith(out.String(), figure); line == "" || strings.Contains(line, "(0 entries)") {
			t.Errorf("events figure %q missing or unmeasured: %q", figure, line)
		}
	}
	if !strings.Contains(out.String(), "dead-letter queue: 0 messages") {
		t.Error("messages reached the dead-letter queue")
	}
	if ts.batches.Load() < ts.crashAt {
		t.Errorf("only %d batches: the crash mid-batch never happened", ts.batches.Load())
	}
	if ts.sim.Stats().Faults == 0 {
		t.Error("no platform fault was injected")
	}
	// Retries, a crash and deliveries waiting for the platform never move
	// the processing bar back, and it ends with every delivery settled.
	for i := 2; i < len(progress); i += 2 {
		if progress[i] < progress[i-2] {
			t.Errorf("the processing bar went back from %d to %d", progress[i-2], progress[i])
		}
	}
	if n := len(progress); n == 0 || progress[n-2] != progress[n-1] {
		t.Errorf("the processing bar ends at %v, want every delivery", progress[max(0, n-2):])
	}
}

// TestSimulateReportsDifferences: a stack that cannot reconcile AgentRef
// never delivers its approvals; simulate must say so and fail.
func TestSimulateReportsDifferences(t *testing.T) {
	ts := startTestStack(t, "simdiff")
	st := ts.state
	st.Settings = maps.Clone(st.Settings)
	st.Settings["AGENTREF_API_KEY"] = ""
	useLocalStack(t, st)
	var out bytes.Buffer
	sim := simulation{commissions: 30, copies: 1, concurrency: 4, seed: 7, drainTimeout: time.Minute}
	err := sim.run(t.Context(), testOptions, &out)
	if err == nil || !strings.Contains(err.Error(), "differences") || !strings.Contains(out.String(), "DIFFERENCE agentref") {
		t.Errorf("simulate without AgentRef reconciliation: %v\n%s", err, out.String())
	}
}

func TestSimulateRefusesImpossibleSettings(t *testing.T) {
	for _, args := range [][]string{{"--commissions", "1"}, {"--lost", "1.5"}, {"--faults", "1"}, {"--copies", "0"}, {"--rate", "-1"}} {
		_, err := rewardctl(t, append([]string{"simulate"}, args...)...)
		if err == nil || !strings.Contains(err.Error(), strings.TrimPrefix(args[0], "--")) {
			t.Errorf("simulate %v: %v, want an error naming the flag", args, err)
		}
	}
}

func TestSimulateNeedsTheLocalStack(t *testing.T) {
	t.Setenv("REWARDRELAY_LOCAL_DIR", t.TempDir())
	_, err := rewardctl(t, "simulate", "--commissions", "10")
	if err == nil || !strings.Contains(err.Error(), "make run") {
		t.Errorf("got %v, want a pointer to make run", err)
	}
}

// tail is the last n bytes of s.
func tail(s string, n int) string {
	if len(s) <= n {
		return s
	}
	return s[len(s)-n:]
}

func lineWith(text, part string) string {
	for line := range strings.Lines(text) {
		if strings.Contains(line, part) {
			return line
		}
	}
	return ""
}
