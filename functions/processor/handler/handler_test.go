package handler

import (
	"bytes"
	"context"
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-lambda-go/events"
	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/google/go-cmp/cmp"

	"github.com/rewardrelay/rewardrelay/shared/fake"
	"github.com/rewardrelay/rewardrelay/shared/firstpromoter"
	"github.com/rewardrelay/rewardrelay/shared/queue"
	"github.com/rewardrelay/rewardrelay/shared/relay"
	"github.com/rewardrelay/rewardrelay/shared/reward"
	"github.com/rewardrelay/rewardrelay/shared/telemetry"
	"github.com/rewardrelay/rewardrelay/shared/wiring"
)

var now = time.Date(2026, 11, 20, 12, 0, 0, 0, time.UTC)

func newHandler(store reward.Store, logs *bytes.Buffer) Handler {
	log := telemetry.NewLogger(logs, "DEBUG")
	return Handler{Processor: &relay.Processor{Store: store, Platforms: wiring.Platforms(firstpromoter.DefaultRules(), nil), Config: relay.DefaultConfig(), Log: log, Now: func() time.Time { return now }}, Log: log, Now: func() time.Time { return now }}
}

func message(id, provider, eventID, eventType, body string) events.SQSMessage {
	attr := func(v string) events.SQSMessageAttribute {
		return events.SQSMessageAttribute{DataType: "String", StringValue: aws.String(v)}
	}
	attrs := map[string]events.SQSMessageAttribute{}
	for k, v := range map[string]string{queue.AttrProvider: provider, queue.AttrEventID: eventID, queue.AttrEventType: eventType, queue.AttrReceivedAt: now.Format(time.RFC3339Nano)} {
		if v != "" {
			attrs[k] = attr(v)
		}
	}
	return events.SQSMessage{MessageId: id, Body: body, MessageAttributes: attrs, EventSource: "aws:sqs"}
}

const conversion = `{"id":"msg_1","type":"conversion.created","schemaVersion":2,"createdAt":"2026-11-20T11:59:00Z","merchantId":"m","environment":"production","data":{"id":"conv_1","affiliateId":"aff_1","amount":1000,"currency":"usd","commissionAmount":200,"status":"pending"}}`

func TestHandleReportsExactlyTheFailedMessages(t *testing.T) {
	store := fake.NewStore()
	logs := &bytes.Buffer{}
	h := newHandler(store, logs)
	ev := events.SQSEvent{Records: []events.SQSMessage{
		message("ok-1", "agentref", "msg_1", "conversion.created", conversion),
		message("no-attrs", "", "", "", conversion),
		message("bad-json", "agentref", "msg_2", "conversion.created", `{"id":`),
		message("fp-no-api", "firstpromoter", "e1", "commission.created", `{"event_id":"e1","event_type":"commission.created","data":{"id":5,"status":"pending","amount":5,"unit":"points"}}`),
		message("dup", "agentref", "msg_1", "conversion.created", conversion),
	}}
	resp, err := h.Handle(t.Context(), ev)
	if err != nil {
		t.Fatal(err)
	}
	var got []string
	for _, f := range resp.BatchItemFailures {
		got = append(got, f.ItemIdentifier)
	}
	if diff := cmp.Diff([]string{"bad-json", "fp-no-api", "no-attrs"}, got); diff != "" {
		t.Errorf("batch item failures (-want +got):\n%s", diff)
	}
	l, _ := store.Ledger(t.Context())
	if len(l.Commissions) != 1 || len(l.Balances) != 1 || l.Balances[0].Pending != 200 {
		t.Errorf("ledger %+v", l)
	}
	var line map[string]any
	for _, s := range strings.Split(strings.TrimSpace(logs.String()), "\n") {
		var m map[string]any
		if json.Unmarshal([]byte(s), &m) == nil && m["msg"] == "batch" {
			line = m
		}
	}
	if line == nil || line["applied"] != float64(1) || line["duplicate"] != float64(1) || line["failed"] != float64(2) || line["undecodable"] != float64(1) || line["_aws"] == nil {
		t.Errorf("batch line %v", line)
	}
}

func TestStoreOutageFailsTheMessage(t *testing.T) {
	store := fake.NewStore()
	store.Fail = context.DeadlineExceeded
	resp, err := newHandler(store, &bytes.Buffer{}).Handle(t.Context(), events.SQSEvent{Records: []events.SQSMessage{message("m1", "agentref", "msg_1", "conversion.created", conversion)}})
	if err != nil || len(resp.BatchItemFailures) != 1 {
		t.Errorf("a store failure must fail the message for a retry: %+v %v", resp, err)
	}
}

// TestReplaySamples runs every sqs-*.json of events/ through the handler.
func TestReplaySamples(t *testing.T) {
	files, _ := filepath.Glob("../../../events/sqs-*.json")
	if len(files) == 0 {
		t.Fatal("no processor samples in events/")
	}
	for _, f := range files {
		t.Run(filepath.Base(f), func(t *testing.T) {
			raw, err := os.ReadFile(f)
			if err != nil {
				t.Fatal(err)
			}
			var ev events.SQSEvent
			if err := json.Unmarshal(raw, &ev); err != nil {
				t.Fatal(err)
			}
			resp, err := newHandler(fake.NewStore(), &bytes.Buffer{}).Handle(t.Context(), ev)
			if err != nil || len(resp.BatchItemFailures) != 0 {
				t.Errorf("sample failed: %+v %v", resp, err)
			}
		})
	}
}

// TestBatchLineIsAValidMetricRecordAtEveryLogLevel: each batch writes one
// EMF record whatever the level, with the platforms' 429 and 5xx answers.
func TestBatchLineIsAValidMetricRecordAtEveryLogLevel(t *testing.T) {
	for _, level := range []string{"DEBUG", "INFO", "WARN", "ERROR"} {
		t.Run(level, func(t *testing.T) {
			logs := &bytes.Buffer{}
			log := telemetry.New(logs, telemetry.Options{Level: level, Stack: "rewardrelay-prod"})
			h := Handler{Processor: &relay.Processor{Store: fake.NewStore(), Platforms: wiring.Platforms(firstpromoter.DefaultRules(), nil), Config: relay.DefaultConfig(), Log: log, Now: func() time.Time { return now }}, Log: log, Now: func() time.Time { return now }, Answers: &telemetry.Answers{}}
			_, err := h.Handle(t.Context(), events.SQSEvent{Records: []events.SQSMessage{
				message("ok-1", "agentref", "msg_1", "conversion.created", conversion),
				message("bad-json", "agentref", "msg_2", "conversion.created", `{"id":`),
			}})
			if err != nil {
				t.Fatal(err)
			}
			recs, errs := telemetry.Records(logs.Bytes())
			for _, err := range errs {
				t.Error(err)
			}
			if len(recs) != 1 {
				t.Fatalf("%d metric records, want the batch line:\n%s", len(recs), logs)
			}
			if r := recs[0]; r["applied"] != float64(1) || r["failed"] != float64(1) || r["stack"] != "rewardrelay-prod" || r[telemetry.RateLimited] != float64(0) {
				t.Errorf("batch record %v", r)
			}
		})
	}
}
