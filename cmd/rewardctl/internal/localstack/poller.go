package localstack

import (
	"context"
	"errors"
	"log/slog"
	"strconv"
	"sync"
	"time"

	"github.com/aws/aws-lambda-go/events"
	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/sqs"
	"github.com/aws/aws-sdk-go-v2/service/sqs/types"
)

// SQSHandler is a Lambda handler for SQS events.
type SQSHandler func(context.Context, events.SQSEvent) (events.SQSEventResponse, error)

// poller feeds a queue to a handler the way Lambda's event source mapping
// does: up to concurrency invocations at once (the mapping's maximum
// concurrency), batches of up to batchSize gathered for at most window, partial
// batch failures left on the queue (they reappear after the visibility
// timeout and reach the dead-letter queue after maxReceiveCount, which the
// queue's redrive policy enforces), successes deleted.
type poller struct {
	sqs       *sqs.Client
	queueURL  string
	queueARN  string
	batchSize int
	window    time.Duration
	// concurrency is how many batches are handled at once (at least 1).
	concurrency int
	handler     SQSHandler
	log         *slog.Logger
	// settled, when set, is told how many messages each batch is done
	// with: deleted, less the copies queued again to wait.
	settled func(n int)
}

// runAll runs concurrency pollers until ctx is done.
func (p *poller) runAll(ctx context.Context) {
	var wg sync.WaitGroup
	for range max(1, p.concurrency) {
		wg.Go(func() { p.run(ctx) })
	}
	wg.Wait()
}

func (p *poller) run(ctx context.Context) {
	for ctx.Err() == nil {
		batch := p.gather(ctx)
		if len(batch) == 0 {
			continue
		}
		ev := events.SQSEvent{Records: batch}
		batchCtx, requeued := withRequeueCount(ctx)
		resp, err := p.handler(batchCtx, ev)
		failed := map[string]bool{}
		if err != nil {
			// A returned error retries the whole batch, as Lambda does.
			p.log.Error("processor returned an error; the whole batch will be retried", "error", err.Error())
			continue
		}
		for _, f := range resp.BatchItemFailures {
			failed[f.ItemIdentifier] = true
		}
		var done []types.DeleteMessageBatchRequestEntry
		for i, m := range batch {
			if !failed[m.MessageId] {
				done = append(done, types.DeleteMessageBatchRequestEntry{Id: aws.String(strconv.Itoa(i)), ReceiptHandle: aws.String(m.ReceiptHandle)})
			}
		}
		deleted := 0
		for len(done) > 0 {
			n := min(10, len(done))
			out, err := p.sqs.DeleteMessageBatch(context.WithoutCancel(ctx), &sqs.DeleteMessageBatchInput{QueueUrl: aws.String(p.queueURL), Entries: done[:n]})
			if err != nil {
				p.log.Error("delete processed messages", "error", err.Error())
			} else {
				deleted += len(out.Successful)
			}
			done = done[n:]
		}
		if p.settled != nil {
			p.settled(max(0, deleted-int(requeued.Load())))
		}
	}
}

// gather receives until the batch is full or the window has passed since
// the first message.
func (p *poller) gather(ctx context.Context) []events.SQSMessage {
	var batch []events.SQSMessage
	var deadline time.Time
	for len(batch) < p.batchSize {
		wait := int32(1)
		if len(batch) > 0 {
			left := time.Until(deadline)
			if left <= 0 {
				break
			}
			wait = 0
		}
		in := &sqs.ReceiveMessageInput{
			QueueUrl:                    aws.String(p.queueURL),
			MaxNumberOfMessages:         int32(min(10, p.batchSize-len(batch))),
			WaitTimeSeconds:             wait,
			MessageAttributeNames:       []string{"All"},
			MessageSystemAttributeNames: []types.MessageSystemAttributeName{types.MessageSystemAttributeNameAll},
		}
		// Lambda hands every message its system attributes
		// (ApproximateReceiveCount among them); the SQS emulator returns
		// them only for the older parameter.
		//lint:ignore SA1019 the SQS emulator reads only AttributeNames
		in.AttributeNames = []types.QueueAttributeName{types.QueueAttributeNameAll}
		out, err := p.sqs.ReceiveMessage(ctx, in)
		if err != nil {
			if !errors.Is(err, context.Canceled) && ctx.Err() == nil {
				p.log.Error("receive from the queue", "error", err.Error())
				time.Sleep(time.Second)
			}
			return batch
		}
		if len(out.Messages) == 0 {
			if len(batch) == 0 {
				continue
			}
			time.Sleep(50 * time.Millisecond)
			continue
		}
		if len(batch) == 0 {
			deadline = time.Now().Add(p.window)
		}
		for _, m := range out.Messages {
			batch = append(batch, p.lambdaMessage(m))
		}
	}
	return batch
}

// lambdaMessage is the message as Lambda hands it to a function.
func (p *poller) lambdaMessage(m types.Message) events.SQSMessage {
	attrs := map[string]events.SQSMessageAttribute{}
	for k, v := range m.MessageAttributes {
		attrs[k] = events.SQSMessageAttribute{DataType: aws.ToString(v.DataType), StringValue: v.StringValue, BinaryValue: v.BinaryValue}
	}
	return events.SQSMessage{
		MessageId: aws.ToString(m.MessageId), ReceiptHandle: aws.ToString(m.ReceiptHandle), Body: aws.ToString(m.Body),
		Md5OfBody: aws.ToString(m.MD5OfBody), Attributes: m.Attributes, MessageAttributes: attrs,
		EventSource: "aws:sqs", EventSourceARN: p.queueARN, AWSRegion: "us-east-1",
	}
}
