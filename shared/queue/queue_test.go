package queue

import (
	"context"
	"errors"
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

func TestSendArrivesByteIdenticalWithAttributes(t *testing.T) {
	client := awstest.SQS(t)
	ctx := t.Context()
	created, err := client.CreateQueue(ctx, &sqs.CreateQueueInput{
		QueueName:  aws.String(awstest.Name(t, "relay")),
		Attributes: map[string]string{"MaximumMessageSize": "1048576"},
	})
	if err != nil {
		t.Fatalf("create queue: %v", err)
	}
	s := &Sender{Client: client, URL: *created.QueueUrl}
	at := time.Date(2026, 11, 20, 12, 0, 0, 123456789, time.UTC)

	bodies := map[string]string{
		"small":  `{"event_id":"e-1","event_type":"commission.updated","data":{"id":7,"note":"élan ☃ \u00e9 \\u0000"}}`,
		"spaces": "  {\n\t\"event_id\" : \"e-2\" ,\r\n \"data\":{} }  ",
		"max":    `{"event_id":"e-3","pad":"` + strings.Repeat("é", (webhook.MaxBody-40)/2) + `"}`,
	}
	for name, body := range bodies {
		t.Run(name, func(t *testing.T) {
			want := webhook.Delivery{Provider: webhook.FirstPromoter, EventID: "id-" + name, EventType: "commission.updated", ReceivedAt: at, Body: []byte(body)}
			if err := s.Send(ctx, want); err != nil {
				t.Fatalf("Send: %v", err)
			}
			got := receiveOne(ctx, t, client, *created.QueueUrl)
			if got.Body != body {
				t.Fatalf("body changed in transit: got %d bytes, want %d", len(got.Body), len(body))
			}
			d, err := Decode(got)
			if err != nil {
				t.Fatalf("Decode: %v", err)
			}
			if diff := cmp.Diff(want, d); diff != "" {
				t.Errorf("delivery after the round trip (-want +got):\n%s", diff)
			}
		})
	}
}

// receiveOne receives and deletes one message, converted to the type Lambda
// hands the processor.
func receiveOne(ctx context.Context, t *testing.T, client *sqs.Client, url string) events.SQSMessage {
	t.Helper()
	out, err := client.ReceiveMessage(ctx, &sqs.ReceiveMessageInput{
		QueueUrl:              aws.String(url),
		MaxNumberOfMessages:   1,
		WaitTimeSeconds:       2,
		MessageAttributeNames: []string{"All"},
	})
	if err != nil {
		t.Fatalf("receive: %v", err)
	}
	if len(out.Messages) != 1 {
		t.Fatalf("received %d messages, want 1", len(out.Messages))
	}
	m := out.Messages[0]
	if _, err := client.DeleteMessage(ctx, &sqs.DeleteMessageInput{QueueUrl: aws.String(url), ReceiptHandle: m.ReceiptHandle}); err != nil {
		t.Fatalf("delete: %v", err)
	}
	attrs := map[string]events.SQSMessageAttribute{}
	for k, v := range m.MessageAttributes {
		attrs[k] = events.SQSMessageAttribute{StringValue: v.StringValue, DataType: aws.ToString(v.DataType)}
	}
	return events.SQSMessage{MessageId: aws.ToString(m.MessageId), Body: aws.ToString(m.Body), MessageAttributes: attrs}
}

func TestSendToAMissingQueueIsUnavailable(t *testing.T) {
	client := awstest.SQS(t)
	s := &Sender{Client: client, URL: "http://127.0.0.1:1/000000000000/missing"}
	err := s.Send(t.Context(), webhook.Delivery{Provider: webhook.AgentRef, EventID: "e", EventType: "conversion.created", Body: []byte(`{}`)})
	if !errors.Is(err, ErrUnavailable) {
		t.Errorf("Send: got %v, want ErrUnavailable", err)
	}
}

type failingSQS struct{}

func (failingSQS) SendMessage(context.Context, *sqs.SendMessageInput, ...func(*sqs.Options)) (*sqs.SendMessageOutput, error) {
	return nil, &types.QueueDoesNotExist{Message: aws.String("no such queue")}
}

func TestSendWrapsErrUnavailable(t *testing.T) {
	err := (&Sender{Client: failingSQS{}, URL: "q"}).Send(t.Context(), webhook.Delivery{Provider: webhook.AgentRef, EventID: "e1"})
	if !errors.Is(err, ErrUnavailable) {
		t.Errorf("Send: got %v, want ErrUnavailable", err)
	}
	var qe *types.QueueDoesNotExist
	if !errors.As(err, &qe) {
		t.Errorf("Send: the SDK error is not kept for the log: %v", err)
	}
}

func TestDecodeRefusesIncompleteMessages(t *testing.T) {
	str := func(s string) events.SQSMessageAttribute {
		return events.SQSMessageAttribute{DataType: "String", StringValue: aws.String(s)}
	}
	full := func() map[string]events.SQSMessageAttribute {
		return map[string]events.SQSMessageAttribute{
			AttrProvider: str("agentref"), AttrEventID: str("msg_1"), AttrEventType: str("conversion.created"), AttrReceivedAt: str("2026-11-20T12:00:00Z"),
		}
	}
	tests := []struct {
		name  string
		edit  func(map[string]events.SQSMessageAttribute)
		valid bool
	}{
		{"complete", func(map[string]events.SQSMessageAttribute) {}, true},
		{"no received_at", func(m map[string]events.SQSMessageAttribute) { delete(m, AttrReceivedAt) }, true},
		{"no provider", func(m map[string]events.SQSMessageAttribute) { delete(m, AttrProvider) }, false},
		{"unknown provider", func(m map[string]events.SQSMessageAttribute) { m[AttrProvider] = str("rewardful") }, false},
		{"no event id", func(m map[string]events.SQSMessageAttribute) { delete(m, AttrEventID) }, false},
		{"no event type", func(m map[string]events.SQSMessageAttribute) { delete(m, AttrEventType) }, false},
		{"bad received_at", func(m map[string]events.SQSMessageAttribute) { m[AttrReceivedAt] = str("yesterday") }, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			attrs := full()
			tt.edit(attrs)
			_, err := Decode(events.SQSMessage{MessageId: "m1", Body: `{}`, MessageAttributes: attrs})
			if tt.valid && err != nil {
				t.Errorf("Decode: %v", err)
			}
			if !tt.valid && !errors.Is(err, ErrUndecodable) {
				t.Errorf("Decode: got %v, want ErrUndecodable", err)
			}
		})
	}
}
