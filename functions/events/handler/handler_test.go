package handler

import (
	"bytes"
	"context"
	"encoding/json"
	"os"
	"testing"
	"time"

	"github.com/aws/aws-lambda-go/events"

	"github.com/rewardrelay/rewardrelay/shared/announce"
	"github.com/rewardrelay/rewardrelay/shared/bus"
	"github.com/rewardrelay/rewardrelay/shared/telemetry"
)

type recordingBus struct {
	got    []bus.Event
	refuse bool
}

func (b *recordingBus) Publish(_ context.Context, evs []bus.Event) ([]error, bus.Stats) {
	errs := make([]error, len(evs))
	for i, e := range evs {
		if b.refuse {
			errs[i] = bus.ErrRejected
			continue
		}
		b.got = append(b.got, e)
	}
	return errs, bus.Stats{Requests: 1}
}

func sample(t *testing.T) events.DynamoDBEvent {
	t.Helper()
	raw, err := os.ReadFile("../../../events/dynamodb-ledger-stream.json")
	if err != nil {
		t.Fatal(err)
	}
	var ev events.DynamoDBEvent
	if err := json.Unmarshal(raw, &ev); err != nil {
		t.Fatal(err)
	}
	return ev
}

func handler(b announce.Bus, log *bytes.Buffer) Handler {
	now := func() time.Time { return time.Date(2026, 11, 20, 12, 0, 2, 0, time.UTC) }
	l := telemetry.NewLogger(log, "INFO")
	return Handler{Announcer: &announce.Announcer{Bus: b, Log: l, Now: now}, Log: l, Now: now}
}

// TestTheSampleStreamBatchIsPublished replays events/dynamodb-ledger-stream.json
// (the sam local invoke sample) through the handler: both entries are
// published, nothing is reported failed, and the batch's line counts them.
func TestTheSampleStreamBatchIsPublished(t *testing.T) {
	b, log := &recordingBus{}, &bytes.Buffer{}
	resp, err := handler(b, log).Handle(t.Context(), sample(t))
	if err != nil || len(resp.BatchItemFailures) != 0 {
		t.Fatalf("Handle: %+v %v, want no failure", resp, err)
	}
	if len(b.got) != 2 || b.got[0].DetailType != announce.RewardPending || b.got[1].DetailType != announce.RewardPosted {
		t.Fatalf("published %+v, want Reward Pending then Reward Posted", b.got)
	}
	var line map[string]any
	if err := json.Unmarshal(bytes.TrimSpace(log.Bytes()), &line); err != nil {
		t.Fatalf("batch line %q: %v", log.String(), err)
	}
	if line["published"] != 2.0 || line["records"] != 2.0 || line["put_events_requests"] != 1.0 {
		t.Errorf("batch line %v, want 2 records, 2 published, 1 request", line)
	}
}

// TestRecordsNotPublishedAreReportedBySequenceNumber: the event source
// mapping sends them (and what follows them in the shard) again.
func TestRecordsNotPublishedAreReportedBySequenceNumber(t *testing.T) {
	resp, err := handler(&recordingBus{refuse: true}, &bytes.Buffer{}).Handle(t.Context(), sample(t))
	if err != nil {
		t.Fatal(err)
	}
	want := []events.DynamoDBBatchItemFailure{{ItemIdentifier: "111100000000000000000001"}, {ItemIdentifier: "111200000000000000000002"}}
	if len(resp.BatchItemFailures) != 2 || resp.BatchItemFailures[0] != want[0] || resp.BatchItemFailures[1] != want[1] {
		t.Errorf("failures %+v, want %+v", resp.BatchItemFailures, want)
	}
}
