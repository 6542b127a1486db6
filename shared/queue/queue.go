// Package queue carries accepted webhook deliveries through Amazon SQS: the
// webhook function sends them, the processor decodes them back.
package queue

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/aws/aws-lambda-go/events"
	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/sqs"
	"github.com/aws/aws-sdk-go-v2/service/sqs/types"

	"github.com/rewardrelay/rewardrelay/shared/webhook"
)

// Message attribute names.
const (
	AttrProvider   = "provider"
	AttrEventID    = "event_id"
	AttrEventType  = "event_type"
	AttrReceivedAt = "received_at"
)

// ErrUnavailable means the queue could not take the message; the delivery
// should be refused with a retryable status so the platform sends it again.
var ErrUnavailable = errors.New("queue: unavailable")

// SendAPI is the part of the SQS client that Sender uses.
type SendAPI interface {
	SendMessage(ctx context.Context, in *sqs.SendMessageInput, optFns ...func(*sqs.Options)) (*sqs.SendMessageOutput, error)
}

// Sender sends deliveries to one queue.
type Sender struct {
	Client SendAPI
	URL    string
}

// Send enqueues the delivery's body unchanged with its attributes. Every
// failure wraps ErrUnavailable.
func (s *Sender) Send(ctx context.Context, d webhook.Delivery) error {
	_, err := s.Client.SendMessage(ctx, &sqs.SendMessageInput{
		QueueUrl:    aws.String(s.URL),
		MessageBody: aws.String(string(d.Body)),
		MessageAttributes: map[string]types.MessageAttributeValue{
			AttrProvider:   stringAttr(string(d.Provider)),
			AttrEventID:    stringAttr(d.EventID),
			AttrEventType:  stringAttr(d.EventType),
			AttrReceivedAt: stringAttr(d.ReceivedAt.UTC().Format(time.RFC3339Nano)),
		},
	})
	if err != nil {
		return fmt.Errorf("send %s event %s: %w: %w", d.Provider, d.EventID, ErrUnavailable, err)
	}
	return nil
}

func stringAttr(v string) types.MessageAttributeValue {
	return types.MessageAttributeValue{DataType: aws.String("String"), StringValue: aws.String(v)}
}

// ErrUndecodable means a message lacks what the processor needs; it can never
// be processed and belongs in the dead-letter queue.
var ErrUndecodable = errors.New("queue: undecodable message")

// Decode turns a message of a Lambda SQS event back into the delivery that
// Send enqueued.
func Decode(m events.SQSMessage) (webhook.Delivery, error) {
	attr := func(name string) string {
		if a, ok := m.MessageAttributes[name]; ok && a.StringValue != nil {
			return *a.StringValue
		}
		return ""
	}
	d := webhook.Delivery{
		Provider:  webhook.Provider(attr(AttrProvider)),
		EventID:   attr(AttrEventID),
		EventType: attr(AttrEventType),
		Body:      []byte(m.Body),
	}
	if d.Provider != webhook.FirstPromoter && d.Provider != webhook.AgentRef {
		return webhook.Delivery{}, fmt.Errorf("decode message %s: provider attribute %q: %w", m.MessageId, d.Provider, ErrUndecodable)
	}
	if d.EventID == "" || d.EventType == "" {
		return webhook.Delivery{}, fmt.Errorf("decode message %s: event_id or event_type attribute missing: %w", m.MessageId, ErrUndecodable)
	}
	if at := attr(AttrReceivedAt); at != "" {
		t, err := time.Parse(time.RFC3339Nano, at)
		if err != nil {
			return webhook.Delivery{}, fmt.Errorf("decode message %s: received_at %q: %w", m.MessageId, at, ErrUndecodable)
		}
		d.ReceivedAt = t
	}
	return d, nil
}
