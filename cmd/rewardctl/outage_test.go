package main

import (
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/sqs"
	"github.com/aws/aws-sdk-go-v2/service/sqs/types"

	"github.com/rewardrelay/rewardrelay/shared/queue"
	"github.com/rewardrelay/rewardrelay/shared/simulator"
	"github.com/rewardrelay/rewardrelay/shared/webhook"
)

// TestLocalStackQueuesWaitingDeliveriesAgain: with FirstPromoter's API
// down, the local event source mapping hands a delivery to the processor,
// which sends it back to the queue delayed; the mapping deletes the
// original, as Lambda's does for a message not reported failed.
func TestLocalStackQueuesWaitingDeliveriesAgain(t *testing.T) {
	ts := startTestStack(t, "outage")
	// As deployed, a batch ends before its messages show again: longer
	// than the 2-second batching window and the platform's retries.
	if _, err := ts.SQS.SetQueueAttributes(t.Context(), &sqs.SetQueueAttributesInput{QueueUrl: aws.String(ts.QueueURL), Attributes: map[string]string{"VisibilityTimeout": "15"}}); err != nil {
		t.Fatal(err)
	}
	ts.sim.SetFaultRate(1)
	c := simulator.FPCommission{ID: 41, Status: "approved", Unit: "points", Amount: 500, PromoterID: 7, CreatedAt: time.Now()}
	ts.sim.PutCommission(c)
	d := simulator.FirstPromoterEvent("secret", "e-41", "commission.updated", c, "pending", time.Now())
	s := &queue.Sender{Client: ts.SQS, URL: ts.QueueURL}
	if err := s.Send(t.Context(), webhook.Delivery{Provider: webhook.FirstPromoter, EventID: "e-41", EventType: "commission.updated", ReceivedAt: time.Now(), Body: d.Body}); err != nil {
		t.Fatal(err)
	}
	count := func(url string, name types.QueueAttributeName) string {
		out, err := ts.SQS.GetQueueAttributes(t.Context(), &sqs.GetQueueAttributesInput{QueueUrl: aws.String(url), AttributeNames: []types.QueueAttributeName{name}})
		if err != nil {
			t.Fatal(err)
		}
		return out.Attributes[string(name)]
	}
	for deadline := time.Now().Add(60 * time.Second); ; time.Sleep(100 * time.Millisecond) {
		// After a batch, the copy waits delayed and the original is gone.
		if ts.Stats.Snapshot().ProcessorBatches > 0 && count(ts.QueueURL, types.QueueAttributeNameApproximateNumberOfMessagesDelayed) == "1" &&
			count(ts.QueueURL, types.QueueAttributeNameApproximateNumberOfMessages) == "0" && count(ts.QueueURL, types.QueueAttributeNameApproximateNumberOfMessagesNotVisible) == "0" {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("the delivery was not sent back to the queue delayed: %s delayed, %s visible, %s in flight after %d batches", count(ts.QueueURL, types.QueueAttributeNameApproximateNumberOfMessagesDelayed),
				count(ts.QueueURL, types.QueueAttributeNameApproximateNumberOfMessages), count(ts.QueueURL, types.QueueAttributeNameApproximateNumberOfMessagesNotVisible), ts.Stats.Snapshot().ProcessorBatches)
		}
	}
	if n := count(ts.DLQURL, types.QueueAttributeNameApproximateNumberOfMessages); n != "0" {
		t.Errorf("%s messages in the dead-letter queue, want 0", n)
	}
}
