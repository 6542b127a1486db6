package main

import (
	"encoding/json"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/sqs"
	"github.com/aws/aws-sdk-go-v2/service/sqs/types"

	"github.com/rewardrelay/rewardrelay/shared/queue"
)

// TestDLQShowsWhyEachMessageFailed: a message the processor can never
// apply goes through its five receives in the local stack and reaches the
// dead-letter queue; rewardctl dlq shows why, and on which receive, it
// last failed.
func TestDLQShowsWhyEachMessageFailed(t *testing.T) {
	ts := startTestStack(t, "dlq")
	// Each receive handled before the message shows again, as with the
	// deployed 3 minutes: longer than the 2-second batching window.
	if _, err := ts.SQS.SetQueueAttributes(t.Context(), &sqs.SetQueueAttributesInput{QueueUrl: aws.String(ts.QueueURL), Attributes: map[string]string{"VisibilityTimeout": "3"}}); err != nil {
		t.Fatal(err)
	}
	// A conversion without its fields, as ingest never queues one: the
	// processor fails it on every receive.
	attr := func(v string) types.MessageAttributeValue {
		return types.MessageAttributeValue{DataType: aws.String("String"), StringValue: aws.String(v)}
	}
	sent, err := ts.SQS.SendMessage(t.Context(), &sqs.SendMessageInput{
		QueueUrl:    aws.String(ts.QueueURL),
		MessageBody: aws.String(`{"id":"msg_poison","type":"conversion.created","createdAt":"2026-11-20T11:59:00Z","environment":"production","data":{}}`),
		MessageAttributes: map[string]types.MessageAttributeValue{
			queue.AttrProvider: attr("agentref"), queue.AttrEventID: attr("msg_poison"), queue.AttrEventType: attr("conversion.created"),
			queue.AttrReceivedAt: attr(time.Now().UTC().Format(time.RFC3339Nano)),
		},
	})
	if err != nil {
		t.Fatal(err)
	}
	id := aws.ToString(sent.MessageId)
	for deadline := time.Now().Add(2 * time.Minute); ; time.Sleep(200 * time.Millisecond) {
		out, err := ts.SQS.GetQueueAttributes(t.Context(), &sqs.GetQueueAttributesInput{QueueUrl: aws.String(ts.DLQURL),
			AttributeNames: []types.QueueAttributeName{types.QueueAttributeNameApproximateNumberOfMessages}})
		if err != nil {
			t.Fatal(err)
		}
		if out.Attributes["ApproximateNumberOfMessages"] == "1" {
			break
		}
		if time.Now().After(deadline) {
			t.Fatal("the message never reached the dead-letter queue")
		}
	}
	out, err := rewardctl(t, "dlq", "--json")
	if err != nil {
		t.Fatalf("%v\n%s", err, out)
	}
	checkSnakeCase(t, "dlq --json", out)
	var got deadLetter
	if err := json.Unmarshal([]byte(out), &got); err != nil {
		t.Fatalf("%v: %s", err, out)
	}
	if got.MessageID != id || got.Provider != "agentref" || got.EventID != "msg_poison" || got.Receives != 5 || got.FailedAt == "" ||
		got.Reason == "" || strings.Contains(got.Reason, "log lines") {
		t.Errorf("dlq: %+v, want message %s, failed on its 5th receive, and the processor's reason", got, id)
	}
	t.Logf("reason: %s", got.Reason)
	// Reading leaves the message where it is, visible to the next reader.
	table, err := rewardctl(t, "dlq")
	if err != nil || !strings.Contains(table, id) || !strings.Contains(lineWith(table, id), "  5  ") {
		t.Errorf("dlq a second time: %v\n%s", err, table)
	}
}
