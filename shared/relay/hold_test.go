package relay

import (
	"strconv"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"

	"github.com/rewardrelay/rewardrelay/shared/dynamo"
	"github.com/rewardrelay/rewardrelay/shared/reward"
	"github.com/rewardrelay/rewardrelay/shared/simulator"
	"github.com/rewardrelay/rewardrelay/shared/webhook"
)

// arEventAt is an AgentRef event the platform created at the given time.
func (h *harness) arEventAt(t testing.TB, msgID, eventType string, data any, at time.Time) Message {
	t.Helper()
	d, err := simulator.AgentRefEvent(arSecret, msgID, eventType, data, at)
	if err != nil {
		t.Fatal(err)
	}
	h.seq++
	return Message{ID: "m-" + strconv.Itoa(h.seq), Delivery: webhook.Delivery{Provider: webhook.AgentRef, EventID: msgID, EventType: eventType, ReceivedAt: t0, Body: d.Body}}
}

func (h *harness) held(t testing.TB, affiliate string) bool {
	t.Helper()
	held, err := h.store.Held(t.Context(), reward.AgentRef, reward.Affiliate(affiliate))
	if err != nil {
		t.Fatal(err)
	}
	return held
}

func (h *harness) process(t testing.TB, msgs ...Message) Result {
	t.Helper()
	res := h.p.Process(t.Context(), msgs)
	if len(res.Failed) > 0 {
		t.Fatalf("failed %v\n%s", res.Failed, h.logs)
	}
	return res
}

func TestUnblockedBeforeAnEarlierBlockedEndsUnheld(t *testing.T) {
	h := newHarness(t)
	blocked := h.arEventAt(t, "msg_block", "affiliate.blocked", map[string]any{"id": "aff_1", "status": "blocked"}, t0)
	unblocked := h.arEventAt(t, "msg_unblock", "affiliate.unblocked", map[string]any{"id": "aff_1", "status": "approved"}, t0.Add(time.Minute))
	h.process(t, unblocked)
	res := h.process(t, blocked) // a retry of the earlier event, applied later
	if h.held(t, "aff_1") {
		t.Fatal("the affiliate is on hold: the earlier blocked event won over the later unblocked one")
	}
	if res.Counts[CountStale] != 1 {
		t.Errorf("the late blocked event: %+v, want it counted stale", res.Counts)
	}
	// Its approved conversions post.
	h.process(t, h.arEvent(t, "msg_conv", "conversion.created", map[string]any{"id": "c1", "affiliateId": "aff_1", "currency": "usd", "commissionAmount": 700, "status": "approved"}))
	aff := reward.Account{Provider: reward.AgentRef, Recipient: reward.Affiliate("aff_1"), Unit: reward.Cash, Currency: "usd"}
	if b := h.balance(t, aff); b != (reward.Deltas{Available: 700}) {
		t.Errorf("balance %+v, want the approval posted", b)
	}
}

func TestAnOldBlockedRedrivenAfterTheIdempotencyTTLDoesNotBlockAgain(t *testing.T) {
	h := newHarness(t)
	blocked := h.arEventAt(t, "msg_block", "affiliate.blocked", map[string]any{"id": "aff_1", "status": "blocked"}, t0)
	h.process(t, blocked)
	h.process(t, h.arEventAt(t, "msg_unblock", "affiliate.unblocked", map[string]any{"id": "aff_1", "status": "approved"}, t0.Add(time.Hour)))
	// The blocked event's record expires (DynamoDB's TTL deletes it); the
	// message is then redriven from the dead-letter queue.
	_, err := h.db.DeleteItem(t.Context(), &dynamodb.DeleteItemInput{TableName: aws.String(h.store.(*dynamo.Store).Table), Key: map[string]types.AttributeValue{
		"pk": &types.AttributeValueMemberS{Value: "EVENT#agentref#msg_block"}, "sk": &types.AttributeValueMemberS{Value: "EVENT"},
	}})
	if err != nil {
		t.Fatal(err)
	}
	res := h.process(t, blocked)
	if h.held(t, "aff_1") {
		t.Fatal("the redriven blocked event put the affiliate on hold again")
	}
	if res.Counts[CountStale] != 1 {
		t.Errorf("the redriven event: %+v, want it counted stale", res.Counts)
	}
	// A newer event still applies.
	h.process(t, h.arEventAt(t, "msg_flag", "flag.resolved", map[string]any{"id": "flag_1", "affiliateId": "aff_1", "status": "confirmed"}, t0.Add(2*time.Hour)))
	if !h.held(t, "aff_1") {
		t.Error("a confirmed flag after the release did not put the affiliate on hold")
	}
}
