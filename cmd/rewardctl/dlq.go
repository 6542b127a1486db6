package main

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"strconv"
	"text/tabwriter"
	"time"

	"github.com/aws/aws-lambda-go/events"
	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/sqs"
	"github.com/aws/aws-sdk-go-v2/service/sqs/types"
	"github.com/spf13/cobra"

	"github.com/rewardrelay/rewardrelay/shared/queue"
	"github.com/rewardrelay/rewardrelay/shared/reward"
)

// deadLetter is one dead-lettered message as dlq --json prints it.
type deadLetter struct {
	MessageID string `json:"message_id"`
	Provider  string `json:"provider"`
	EventID   string `json:"event_id"`
	EventType string `json:"event_type"`
	// Receives is the receive on which it last failed (0: unknown).
	Receives int    `json:"receives"`
	FailedAt string `json:"failed_at"`
	Reason   string `json:"reason"`
}

func dlqCommand(opts *options) *cobra.Command {
	var max int
	var asJSON bool
	cmd := &cobra.Command{
		Use:   "dlq",
		Short: "List dead-lettered webhook events with why they could not be processed",
		Long: `Reads up to --max messages of the dead-letter queue without removing them
(they are visible again as soon as they are read) and shows each one's event, the
receive on which it last failed and why: the processor records each
message's last failure in the ledger table for 14 days, as long as the
dead-letter queue keeps the message.`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			if err := atLeast("max", max, 1); err != nil {
				return err
			}
			t, err := openTarget(cmd.Context(), opts)
			if err != nil {
				return err
			}
			_, dlq, err := t.queues()
			if err != nil {
				return err
			}
			letters, err := readDeadLetters(cmd.Context(), t, dlq, max)
			if err != nil {
				return err
			}
			w := cmd.OutOrStdout()
			if asJSON {
				enc := json.NewEncoder(w)
				for _, l := range letters {
					if err := enc.Encode(l); err != nil {
						return err
					}
				}
				return nil
			}
			tw := tabwriter.NewWriter(w, 0, 4, 2, ' ', 0)
			fmt.Fprintln(tw, "MESSAGE\tPROVIDER\tEVENT\tTYPE\tRECEIVES\tFAILED AT\tREASON")
			for _, l := range letters {
				receives := "?"
				if l.Receives > 0 {
					receives = strconv.Itoa(l.Receives)
				}
				fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\t%s\t%s\n", l.MessageID, l.Provider, l.EventID, l.EventType, receives, l.FailedAt, l.Reason)
			}
			if err := tw.Flush(); err != nil {
				return err
			}
			fmt.Fprintf(w, "%d dead-lettered messages shown\n", len(letters))
			return nil
		},
	}
	cmd.Flags().BoolVar(&asJSON, "json", false, "one JSON object per message")
	cmd.Flags().IntVar(&max, "max", 50, "most messages to show")
	cmd.AddCommand(&cobra.Command{
		Use:   "redrive",
		Short: "Move every dead-lettered message back to the event queue (after fixing the cause)",
		Args:  noArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			t, err := openTarget(cmd.Context(), opts)
			if err != nil {
				return err
			}
			q, dlq, err := t.queues()
			if err != nil {
				return err
			}
			client := t.sqs
			arn := func(url string) (string, error) {
				out, err := client.GetQueueAttributes(cmd.Context(), &sqs.GetQueueAttributesInput{QueueUrl: aws.String(url), AttributeNames: []types.QueueAttributeName{types.QueueAttributeNameQueueArn}})
				if err != nil {
					return "", fmt.Errorf("queue ARN of %s: %w", url, err)
				}
				return out.Attributes["QueueArn"], nil
			}
			src, err := arn(dlq)
			if err != nil {
				return err
			}
			dst, err := arn(q)
			if err != nil {
				return err
			}
			out, err := client.StartMessageMoveTask(cmd.Context(), &sqs.StartMessageMoveTaskInput{SourceArn: aws.String(src), DestinationArn: aws.String(dst)})
			if err != nil {
				return fmt.Errorf("start the redrive: %w", err)
			}
			fmt.Fprintf(cmd.OutOrStdout(), "redrive started (task %s): the processor takes the messages again\n", aws.ToString(out.TaskHandle))
			return nil
		},
	})
	return cmd
}

// readDeadLetters reads up to max messages of the dead-letter queue and
// what the processor recorded of their last failure. The messages it reads
// stay hidden while it reads on (so that it pages through the queue), and
// are visible again when it is done.
func readDeadLetters(ctx context.Context, t *target, dlq string, max int) ([]deadLetter, error) {
	var out []deadLetter
	seen := map[string]bool{}
	var read []types.ChangeMessageVisibilityBatchRequestEntry
	defer func() {
		for len(read) > 0 {
			n := min(10, len(read))
			// Best effort: a message left hidden is back within 30 seconds.
			_, _ = t.sqs.ChangeMessageVisibilityBatch(context.WithoutCancel(ctx), &sqs.ChangeMessageVisibilityBatchInput{QueueUrl: aws.String(dlq), Entries: read[:n]})
			read = read[n:]
		}
	}()
	failures := t.store()
	for len(seen) < max {
		page, err := t.sqs.ReceiveMessage(ctx, &sqs.ReceiveMessageInput{
			QueueUrl: aws.String(dlq), MaxNumberOfMessages: int32(min(10, max-len(seen))), VisibilityTimeout: 30,
			MessageAttributeNames: []string{"All"},
		})
		if err != nil {
			return nil, fmt.Errorf("read the dead-letter queue: %w", err)
		}
		if len(page.Messages) == 0 {
			break
		}
		for _, m := range page.Messages {
			id := aws.ToString(m.MessageId)
			if seen[id] {
				continue
			}
			seen[id] = true
			read = append(read, types.ChangeMessageVisibilityBatchRequestEntry{Id: aws.String(strconv.Itoa(len(read))), ReceiptHandle: m.ReceiptHandle, VisibilityTimeout: 0})
			attrs := map[string]events.SQSMessageAttribute{}
			for k, v := range m.MessageAttributes {
				attrs[k] = events.SQSMessageAttribute{DataType: aws.ToString(v.DataType), StringValue: v.StringValue}
			}
			d, decodeErr := queue.Decode(events.SQSMessage{MessageId: id, Body: aws.ToString(m.Body), MessageAttributes: attrs})
			l := deadLetter{MessageID: id, Provider: string(d.Provider), EventID: d.EventID, EventType: d.EventType}
			f, err := failures.Failure(ctx, id)
			switch {
			case err == nil:
				l.Receives, l.FailedAt, l.Reason = f.Receives, f.At.UTC().Format(time.RFC3339), f.Reason
			case errors.Is(err, reward.ErrNotFound) && decodeErr != nil:
				l.Reason = decodeErr.Error()
			case errors.Is(err, reward.ErrNotFound):
				l.Reason = "no failure recorded (the processor could not record it, or more than 14 days ago): see its log lines with message_id " + id
			default:
				l.Reason = fmt.Sprintf("the recorded failure could not be read: %v", err)
			}
			out = append(out, l)
		}
	}
	return out, nil
}
