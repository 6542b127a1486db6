package queue

import (
	"context"
	"errors"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-lambda-go/events"
	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/sqs"
	"github.com/aws/aws-sdk-go-v2/service/sqs/types"
	"github.com/google/go-cmp/cmp"

	"github.com/rewardrelay/rewardrelay/shared/awstest"
	"github.com/rewardrelay/rewardrelay/shared/webhook"
)

// receiveAll receives n messages as Lambda hands them to the processor,
// without deleting them.
func receiveAll(t *testing.T, client *sqs.Client, url string, n int) []events.SQSMessage {
	t.Helper()
	var out []events.SQSMessage
	for range 20 {
		if len(out) == n {
			break
		}
		got, err := client.ReceiveMessage(t.Context(), &sqs.ReceiveMessageInput{
			QueueUrl: aws.String(url), MaxNumberOfMessages: int32(min(10, n-len(out))), WaitTimeSeconds: 1,
			MessageAttributeNames: []string{"All"},
		})
		if err != nil {
			t.Fatalf("receive: %v", err)
		}
		for _, m := range got.Messages {
			attrs := map[string]events.SQSMessageAttribute{}
			for k, v := range m.MessageAttributes {
				attrs[k] = events.SQSMessageAttribute{StringValue: v.StringValue, DataType: aws.ToString(v.DataType)}
			}
			out = append(out, events.SQSMessage{MessageId: aws.ToString(m.MessageId), ReceiptHandle: aws.ToString(m.ReceiptHandle), Body: aws.ToString(m.Body), MessageAttributes: attrs})
		}
	}
	if len(out) != n {
		t.Fatalf("received %d messages, want %d", len(out), n)
	}
	return out
}

func delayedCount(t *testing.T, client *sqs.Client, url string) string {
	t.Helper()
	out, err := client.GetQueueAttributes(t.Context(), &sqs.GetQueueAttributesInput{QueueUrl: aws.String(url), AttributeNames: []types.QueueAttributeName{
		types.QueueAttributeNameApproximateNumberOfMessagesDelayed}})
	if err != nil {
		t.Fatal(err)
	}
	return out.Attributes["ApproximateNumberOfMessagesDelayed"]
}

func TestRequeueSendsDelayedCopiesThatStartTheirReceivesAgain(t *testing.T) {
	client := awstest.SQS(t)
	ctx := t.Context()
	created, err := client.CreateQueue(ctx, &sqs.CreateQueueInput{QueueName: aws.String(awstest.Name(t, "requeue")), Attributes: map[string]string{"MaximumMessageSize": "1048576"}})
	if err != nil {
		t.Fatal(err)
	}
	url := *created.QueueUrl
	s := &Sender{Client: client, URL: url}
	at := time.Date(2026, 11, 20, 12, 0, 0, 0, time.UTC)
	// Twelve deliveries of 200 KiB: more than one batch by count, and more
	// than one by SendMessageBatch's 1 MiB.
	for i := range 12 {
		body := `{"event_id":"e-` + strconv.Itoa(i) + `","pad":"` + strings.Repeat("x", 200<<10) + `"}`
		if err := s.Send(ctx, webhook.Delivery{Provider: webhook.FirstPromoter, EventID: "e-" + strconv.Itoa(i), EventType: "commission.created", ReceivedAt: at, Body: []byte(body)}); err != nil {
			t.Fatal(err)
		}
	}
	originals := receiveAll(t, client, url, 12)
	r := &Requeuer{Client: client, URL: url}
	var later []Delayed
	for i, m := range originals {
		delay := time.Minute
		if i == 0 {
			delay = 0
		}
		later = append(later, Delayed{Message: m, Delay: delay})
	}
	failed, err := r.Requeue(ctx, later)
	if err != nil || len(failed) != 0 {
		t.Fatalf("Requeue: %v, failed %v", err, failed)
	}
	for _, m := range originals {
		if _, err := client.DeleteMessage(ctx, &sqs.DeleteMessageInput{QueueUrl: aws.String(url), ReceiptHandle: aws.String(m.ReceiptHandle)}); err != nil {
			t.Fatal(err)
		}
	}
	if delayed := delayedCount(t, client, url); delayed != "11" {
		t.Errorf("%s messages delayed, want the 11 copies sent with a delay", delayed)
	}
	// The copy is a new message (its receives start again), alive after
	// its original was deleted.
	copied := receiveAll(t, client, url, 1)[0]
	if copied.MessageId == originals[0].MessageId {
		t.Error("the copy has the original's message id")
	}
	want, err := Decode(originals[0])
	if err != nil {
		t.Fatal(err)
	}
	got, err := Decode(copied)
	if err != nil {
		t.Fatal(err)
	}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("the copy's delivery (-want +got):\n%s", diff)
	}
}

// partialSQS sends nothing for the entries whose body names a refused event.
type partialSQS struct {
	calls int
}

func (p *partialSQS) SendMessageBatch(_ context.Context, in *sqs.SendMessageBatchInput, _ ...func(*sqs.Options)) (*sqs.SendMessageBatchOutput, error) {
	p.calls++
	if p.calls == 2 {
		return nil, errors.New("connection reset")
	}
	out := &sqs.SendMessageBatchOutput{}
	for _, e := range in.Entries {
		switch {
		case strings.Contains(*e.MessageBody, "refused"):
			out.Failed = append(out.Failed, types.BatchResultErrorEntry{Id: e.Id, Code: aws.String("InternalError")})
		case strings.Contains(*e.MessageBody, "unanswered"):
		default:
			out.Successful = append(out.Successful, types.SendMessageBatchResultEntry{Id: e.Id})
		}
	}
	return out, nil
}

func TestRequeueReportsEveryCopyNotSent(t *testing.T) {
	var later []Delayed
	for i := range 15 {
		body := "ok"
		switch i {
		case 3:
			body = "refused"
		case 4:
			body = "unanswered"
		}
		later = append(later, Delayed{Message: events.SQSMessage{MessageId: "m" + strconv.Itoa(i), Body: body}, Delay: time.Hour})
	}
	failed, err := (&Requeuer{Client: &partialSQS{}, URL: "q"}).Requeue(t.Context(), later)
	if err == nil {
		t.Error("no error for the copies not sent")
	}
	// m3 refused, m4 not reported at all, m10 to m14 in a call that failed.
	want := []string{"m10", "m11", "m12", "m13", "m14", "m3", "m4"}
	slices.Sort(failed)
	if diff := cmp.Diff(want, failed); diff != "" {
		t.Errorf("failed (-want +got):\n%s", diff)
	}
}
