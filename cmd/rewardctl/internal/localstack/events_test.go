package localstack

import (
	"context"
	"encoding/json"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/aws/aws-lambda-go/events"
	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/eventbridge"
	ebtypes "github.com/aws/aws-sdk-go-v2/service/eventbridge/types"

	"github.com/rewardrelay/rewardrelay/shared/stack"
)

// TestTheTemplatesFilterLetsOnlyBalanceRecordsThrough applies the events
// function's FilterCriteria, as the local event source mapping does, to
// records of a balance item, a commission item, an entry item and a
// balance item's removal.
func TestTheTemplatesFilterLetsOnlyBalanceRecordsThrough(t *testing.T) {
	tpl, err := stack.Load("../../../../template.yaml")
	if err != nil {
		t.Fatal(err)
	}
	src, err := tpl.StreamSource("EventsFunction", "Ledger")
	if err != nil {
		t.Fatal(err)
	}
	if src.BatchSize != 100 || src.Window != time.Second || src.MaxRetries != 100 || src.MaxRecordAge != 6*time.Hour {
		t.Errorf("batch size %d, window %s, %d retries, records up to %s old; want the template's 100, 1s, 100 and 6h", src.BatchSize, src.Window, src.MaxRetries, src.MaxRecordAge)
	}
	pattern := src.Pattern
	rec := func(name, itemType string) events.DynamoDBEventRecord {
		var r events.DynamoDBEventRecord
		raw := `{"eventName":"` + name + `","dynamodb":{"NewImage":{"type":{"S":"` + itemType + `"}},"SequenceNumber":"1"}}`
		if err := json.Unmarshal([]byte(raw), &r); err != nil {
			t.Fatal(err)
		}
		return r
	}
	for _, c := range []struct {
		r    events.DynamoDBEventRecord
		want bool
	}{
		{rec("MODIFY", "balance"), true},
		{rec("INSERT", "balance"), true},
		{rec("MODIFY", "commission"), false},
		{rec("INSERT", "entry"), false},
		{rec("REMOVE", "balance"), false},
	} {
		if got := matchPattern(pattern, c.r); got != c.want {
			t.Errorf("%s of a %s item: matched %v, want %v", c.r.EventName, c.r.Change.NewImage["type"].String(), got, c.want)
		}
	}
}

// TestTheSinkKeepsEveryEntryOfEachCall: the local bus writes each entry
// as a line, and ReadEvents reads them back from where it left off.
func TestTheSinkKeepsEveryEntryOfEachCall(t *testing.T) {
	path := filepath.Join(t.TempDir(), "events.jsonl")
	at := time.Date(2026, 11, 20, 12, 0, 0, 0, time.UTC)
	s := &Sink{Path: path, Now: func() time.Time { return at.Add(time.Second) }}
	put := func(details ...string) {
		in := &eventbridge.PutEventsInput{}
		for _, d := range details {
			in.Entries = append(in.Entries, ebtypes.PutEventsRequestEntry{EventBusName: aws.String("b"), Source: aws.String("rewardrelay"), DetailType: aws.String("Reward Posted"), Detail: aws.String(d), Time: aws.Time(at)})
		}
		out, err := s.PutEvents(t.Context(), in)
		if err != nil || len(out.Entries) != len(details) || out.FailedEntryCount != 0 {
			t.Fatalf("PutEvents: %+v %v", out, err)
		}
	}
	put(`{"id":"a"}`, `{"id":"b"}`)
	got, off, err := ReadEvents(path, 0)
	if err != nil || len(got) != 2 || string(got[1].Detail) != `{"id":"b"}` || !got[0].PublishedAt.Equal(at.Add(time.Second)) {
		t.Fatalf("ReadEvents: %+v %v", got, err)
	}
	put(`{"id":"c"}`)
	more, _, err := ReadEvents(path, off)
	if err != nil || len(more) != 1 || string(more[0].Detail) != `{"id":"c"}` {
		t.Errorf("ReadEvents from %d: %+v %v, want the third event alone", off, more, err)
	}
	if got[0].ID == got[1].ID {
		t.Error("two events put with one id")
	}
}

// recordsOnce hands its records to the first Read, then none.
type recordsOnce struct{ recs []events.DynamoDBEventRecord }

func (r *recordsOnce) Read(context.Context, int32) ([]events.DynamoDBEventRecord, error) {
	out := r.recs
	r.recs = nil
	return out, nil
}

// TestABatchFailingPastTheRetryLimitIsDescribedAndSkipped: the local event
// source retries the record the events function keeps failing (and the
// records after it in its batch) MaximumRetryAttempts times, then writes
// the batch's description to the failures file, as Lambda does to the
// on-failure queue, and goes on with the records after it.
func TestABatchFailingPastTheRetryLimitIsDescribedAndSkipped(t *testing.T) {
	var recs []events.DynamoDBEventRecord
	for i := 1; i <= 5; i++ {
		var r events.DynamoDBEventRecord
		r.Change.SequenceNumber = fmt.Sprint(i)
		r.Change.ApproximateCreationDateTime = events.SecondsEpochTime{Time: time.Now()}
		recs = append(recs, r)
	}
	dir := t.TempDir()
	ctx, cancel := context.WithCancel(t.Context())
	defer cancel()
	var invoked [][]string
	p := &streamPoller{
		reader: &recordsOnce{recs: recs}, source: stack.StreamSource{BatchSize: 3, MaxRetries: 2, MaxRecordAge: time.Hour},
		filter: func(events.DynamoDBEventRecord) bool { return true }, streamARN: "arn:local", failures: filepath.Join(dir, eventsFailuresName),
		log: slog.New(slog.DiscardHandler), sleep: func(context.Context, time.Duration) {},
		handler: func(_ context.Context, ev events.DynamoDBEvent) (events.DynamoDBEventResponse, error) {
			var seqs []string
			for _, r := range ev.Records {
				seqs = append(seqs, r.Change.SequenceNumber)
			}
			invoked = append(invoked, seqs)
			if seqs[0] == "5" {
				cancel() // the last record: stop the poller
			}
			var resp events.DynamoDBEventResponse
			for _, s := range seqs {
				if s == "2" {
					resp.BatchItemFailures = append(resp.BatchItemFailures, events.DynamoDBBatchItemFailure{ItemIdentifier: s})
				}
			}
			return resp, nil
		},
	}
	p.run(ctx)
	// 1,2,3 (2 fails); 2,3,4 and again (the 2 retries); then 2,3,4 is
	// described and skipped; 5.
	if got := fmt.Sprint(invoked); got != "[[1 2 3] [2 3 4] [2 3 4] [5]]" {
		t.Errorf("invocations %s, want [[1 2 3] [2 3 4] [2 3 4] [5]]", got)
	}
	raw, err := os.ReadFile(p.failures)
	if err != nil {
		t.Fatal(err)
	}
	var failure struct {
		RequestContext struct {
			Condition              string
			ApproximateInvokeCount int
		}
		DDBStreamBatchInfo struct {
			StreamArn                              string
			BatchSize                              int
			StartSequenceNumber, EndSequenceNumber string
		}
	}
	if err := json.Unmarshal(raw, &failure); err != nil {
		t.Fatalf("failures file %q: %v", raw, err)
	}
	b := failure.DDBStreamBatchInfo
	if failure.RequestContext.Condition != "RetryAttemptsExhausted" || failure.RequestContext.ApproximateInvokeCount != 3 ||
		b.StreamArn != "arn:local" || b.BatchSize != 3 || b.StartSequenceNumber != "2" || b.EndSequenceNumber != "4" {
		t.Errorf("failure description %s", raw)
	}
}
