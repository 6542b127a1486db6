// Package queue carries accepted webhook deliveries through Amazon SQS: the
// webhook function sends them, the processor decodes them back.
package queue

import (
	"context"
	"errors"
	"fmt"
	"strconv"
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

// RequeueAPI is the part of the SQS client that Requeuer uses.
type RequeueAPI interface {
	SendMessageBatch(ctx context.Context, in *sqs.SendMessageBatchInput, optFns ...func(*sqs.Options)) (*sqs.SendMessageBatchOutput, error)
}

// Requeuer sends received messages to their queue again, delayed: the
// processor's way to wait for a platform without spending the receives
// that send a message to the dead-letter queue.
type Requeuer struct {
	Client RequeueAPI
	URL    string
}

// Delayed is a received message to deliver again after Delay.
type Delayed struct {
	Message events.SQSMessage
	Delay   time.Duration
}

// SQS's limits on a SendMessageBatch: entries, the sum of their sizes, and
// a message's delay.
const (
	maxBatchEntries = 10
	maxBatchBytes   = 1 << 20
	maxDelay        = 15 * time.Minute
)

// Requeue sends a copy of each message, with the same body and attributes,
// to be received after its delay (at most 15 minutes). A copy is a new
// message: its receive count starts from zero. The caller must leave the
// originals on the queue until Requeue returns, then delete only those
// whose copy was sent: a crash in between leaves a duplicate, which the
// ledger's idempotency absorbs, never a loss. It returns the ids of the
// messages whose copy was not sent, with the reasons.
func (r *Requeuer) Requeue(ctx context.Context, msgs []Delayed) ([]string, error) {
	var failed []string
	var errs []error
	for len(msgs) > 0 {
		n, size := 0, 0
		for n < len(msgs) && n < maxBatchEntries {
			s := messageSize(msgs[n].Message)
			if n > 0 && size+s > maxBatchBytes {
				break
			}
			size += s
			n++
		}
		chunk := msgs[:n]
		msgs = msgs[n:]
		entries := make([]types.SendMessageBatchRequestEntry, len(chunk))
		for i, d := range chunk {
			delay := min(maxDelay, max(0, d.Delay))
			entries[i] = types.SendMessageBatchRequestEntry{
				Id:                aws.String(strconv.Itoa(i)),
				MessageBody:       aws.String(d.Message.Body),
				MessageAttributes: sqsAttributes(d.Message.MessageAttributes),
				DelaySeconds:      int32((delay + time.Second - 1) / time.Second),
			}
		}
		out, err := r.Client.SendMessageBatch(ctx, &sqs.SendMessageBatchInput{QueueUrl: aws.String(r.URL), Entries: entries})
		if err != nil {
			for _, d := range chunk {
				failed = append(failed, d.Message.MessageId)
			}
			errs = append(errs, fmt.Errorf("requeue %d messages: %w", len(chunk), err))
			continue
		}
		// Only a copy SQS reports sent lets its original go.
		sent := make([]bool, len(chunk))
		for _, s := range out.Successful {
			if i, err := strconv.Atoi(aws.ToString(s.Id)); err == nil && i >= 0 && i < len(chunk) {
				sent[i] = true
			}
		}
		codes := map[string]string{}
		for _, f := range out.Failed {
			codes[aws.ToString(f.Id)] = aws.ToString(f.Code)
		}
		for i, d := range chunk {
			if !sent[i] {
				failed = append(failed, d.Message.MessageId)
				errs = append(errs, fmt.Errorf("requeue message %s: not sent (%s)", d.Message.MessageId, codes[strconv.Itoa(i)]))
			}
		}
	}
	return failed, errors.Join(errs...)
}

// messageSize is what a message counts towards a batch's size limit: its
// body and its attributes' names, types and values.
func messageSize(m events.SQSMessage) int {
	n := len(m.Body)
	for k, v := range m.MessageAttributes {
		n += len(k) + len(v.DataType) + len(aws.ToString(v.StringValue)) + len(v.BinaryValue)
	}
	return n
}

func sqsAttributes(in map[string]events.SQSMessageAttribute) map[string]types.MessageAttributeValue {
	out := make(map[string]types.MessageAttributeValue, len(in))
	for k, v := range in {
		out[k] = types.MessageAttributeValue{DataType: aws.String(v.DataType), StringValue: v.StringValue, BinaryValue: v.BinaryValue}
	}
	return out
}
