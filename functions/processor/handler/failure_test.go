package handler

import (
	"bytes"
	"errors"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-lambda-go/events"

	"github.com/rewardrelay/rewardrelay/shared/fake"
	"github.com/rewardrelay/rewardrelay/shared/reward"
	"github.com/rewardrelay/rewardrelay/shared/stack"
)

// TestEachFailureIsRecordedWithItsReasonAndReceiveCount: for every message
// the batch reports failed, the handler keeps why and on which receive,
// where rewardctl dlq finds it by the message's id.
func TestEachFailureIsRecordedWithItsReasonAndReceiveCount(t *testing.T) {
	store := fake.NewStore()
	h := newHandler(store, &bytes.Buffer{})
	h.Failures = store
	received := func(m events.SQSMessage, n int) events.SQSMessage {
		m.Attributes = map[string]string{"ApproximateReceiveCount": strconv.Itoa(n)}
		return m
	}
	ev := events.SQSEvent{Records: []events.SQSMessage{
		received(message("ok-1", "agentref", "msg_1", "conversion.created", conversion), 1),
		received(message("no-attrs", "", "", "", conversion), 3),
		received(message("fp-no-api", "firstpromoter", "e1", "commission.created", `{"event_id":"e1","event_type":"commission.created","data":{"id":5,"status":"pending","amount":5,"unit":"points"}}`), 5),
	}}
	if _, err := h.Handle(t.Context(), ev); err != nil {
		t.Fatal(err)
	}
	for _, want := range []struct {
		id, provider, event, reason string
		receives                    int
	}{
		{"no-attrs", "", "", "undecodable", 3},
		{"fp-no-api", "firstpromoter", "e1", "platform's api does not answer", 5},
	} {
		f, err := store.Failure(t.Context(), want.id)
		if err != nil {
			t.Errorf("%s: %v", want.id, err)
			continue
		}
		if f.MessageID != want.id || string(f.Provider) != want.provider || f.EventID != want.event || f.Receives != want.receives ||
			!strings.Contains(strings.ToLower(f.Reason), want.reason) || !f.At.Equal(now) || !f.ExpiresAt.Equal(now.Add(FailureTTL)) {
			t.Errorf("%s: %+v, want its reason (%q), receive %d, at %v", want.id, f, want.reason, want.receives, now)
		}
	}
	if _, err := store.Failure(t.Context(), "ok-1"); !errors.Is(err, reward.ErrNotFound) {
		t.Errorf("a message that applied has a failure: %v", err)
	}

	// A failure of the ledger keeps the ledger's own words.
	store.Fail = errors.New("ProvisionedThroughputExceededException")
	if _, err := h.Handle(t.Context(), events.SQSEvent{Records: []events.SQSMessage{received(message("m-2", "agentref", "msg_2", "conversion.created", conversion), 2)}}); err != nil {
		t.Fatal(err)
	}
	if f, err := store.Failure(t.Context(), "m-2"); err != nil || !strings.Contains(f.Reason, "ProvisionedThroughputExceededException") || f.Receives != 2 {
		t.Errorf("m-2: %+v, %v, want the store's error", f, err)
	}
}

// TestFailuresAreKeptAsLongAsTheDeadLetterQueueKeepsMessages.
func TestFailuresAreKeptAsLongAsTheDeadLetterQueueKeepsMessages(t *testing.T) {
	tpl, err := stack.Load("../../../template.yaml")
	if err != nil {
		t.Fatal(err)
	}
	attrs, err := tpl.QueueAttributes("DeadLetterQueue", nil)
	if err != nil {
		t.Fatal(err)
	}
	if want := attrs["MessageRetentionPeriod"]; want != strconv.Itoa(int(FailureTTL/time.Second)) {
		t.Errorf("FailureTTL is %v, the dead-letter queue keeps messages %s seconds", FailureTTL, want)
	}
}
