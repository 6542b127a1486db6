package main

import (
	"fmt"
	"text/tabwriter"

	"github.com/aws/aws-lambda-go/events"
	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/sqs"
	"github.com/aws/aws-sdk-go-v2/service/sqs/types"
	"github.com/spf13/cobra"

	"github.com/rewardrelay/rewardrelay/shared/queue"
)

func dlqCommand(opts *options) *cobra.Command {
	var max int
	cmd := &cobra.Command{
		Use:   "dlq",
		Short: "List dead-lettered webhook events with why they could not be processed",
		Long: `Reads up to --max messages of the dead-letter queue without removing them
(they become visible again after 30 seconds) and shows each one's event and reason.`,
		RunE: func(cmd *cobra.Command, _ []string) error {
			t, err := openTarget(cmd.Context(), opts)
			if err != nil {
				return err
			}
			_, dlq, err := t.queues()
			if err != nil {
				return err
			}
			client := t.sqs
			tw := tabwriter.NewWriter(cmd.OutOrStdout(), 0, 4, 2, ' ', 0)
			fmt.Fprintln(tw, "MESSAGE\tPROVIDER\tEVENT\tTYPE\tRECEIVES\tREASON")
			seen := map[string]bool{}
			for len(seen) < max {
				out, err := client.ReceiveMessage(cmd.Context(), &sqs.ReceiveMessageInput{
					QueueUrl: aws.String(dlq), MaxNumberOfMessages: int32(min(10, max-len(seen))), VisibilityTimeout: 30,
					MessageAttributeNames: []string{"All"}, MessageSystemAttributeNames: []types.MessageSystemAttributeName{types.MessageSystemAttributeNameAll},
				})
				if err != nil {
					return fmt.Errorf("read the dead-letter queue: %w", err)
				}
				if len(out.Messages) == 0 {
					break
				}
				for _, m := range out.Messages {
					id := aws.ToString(m.MessageId)
					if seen[id] {
						continue
					}
					seen[id] = true
					attrs := map[string]events.SQSMessageAttribute{}
					for k, v := range m.MessageAttributes {
						attrs[k] = events.SQSMessageAttribute{DataType: aws.ToString(v.DataType), StringValue: v.StringValue}
					}
					reason := "failed 5 times: see the processor's log lines with this message_id"
					d, err := queue.Decode(events.SQSMessage{MessageId: id, Body: aws.ToString(m.Body), MessageAttributes: attrs})
					if err != nil {
						reason = err.Error()
					}
					fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\t%s\n", id, d.Provider, d.EventID, d.EventType, m.Attributes["ApproximateReceiveCount"], reason)
				}
			}
			if err := tw.Flush(); err != nil {
				return err
			}
			fmt.Fprintf(cmd.OutOrStdout(), "%d dead-lettered messages shown\n", len(seen))
			return nil
		},
	}
	cmd.Flags().IntVar(&max, "max", 50, "most messages to show")
	cmd.AddCommand(&cobra.Command{
		Use:   "redrive",
		Short: "Move every dead-lettered message back to the event queue (after fixing the cause)",
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
