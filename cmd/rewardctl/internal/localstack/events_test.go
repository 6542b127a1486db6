package localstack

import (
	"encoding/json"
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
	size, window, pattern, err := tpl.StreamSource("EventsFunction", "Ledger")
	if err != nil {
		t.Fatal(err)
	}
	if size != 100 || window != time.Second {
		t.Errorf("batch size %d, window %s; want the template's 100 and 1s", size, window)
	}
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
