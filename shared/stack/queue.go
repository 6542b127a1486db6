package stack

import (
	"encoding/json"
	"fmt"
)

// queueAttributes are the AWS::SQS::Queue properties that are also SQS
// queue attributes of the same name.
var queueAttributes = []string{
	"DelaySeconds", "MaximumMessageSize", "MessageRetentionPeriod",
	"ReceiveMessageWaitTimeSeconds", "VisibilityTimeout", "SqsManagedSseEnabled",
}

// QueueAttributes returns the CreateQueue attributes of queue logicalID as
// the template defines it. refs resolves the dead-letter queue's ARN
// ("DeadLetterQueue.Arn") to the local one.
func (t *Template) QueueAttributes(logicalID string, refs func(string) (string, bool)) (map[string]string, error) {
	if r, ok := t.Resources[logicalID]; !ok || r.Type != "AWS::SQS::Queue" {
		return nil, fmt.Errorf("queue %s: %w", logicalID, ErrNotFound)
	}
	props, err := t.Properties(logicalID, nil, refs)
	if err != nil {
		return nil, err
	}
	attrs := map[string]string{}
	for _, name := range queueAttributes {
		if v, ok := props[name]; ok {
			attrs[name] = fmt.Sprint(v)
		}
	}
	if rp, ok := props["RedrivePolicy"]; ok {
		raw, err := json.Marshal(rp)
		if err != nil {
			return nil, fmt.Errorf("queue %s: redrive policy: %w", logicalID, err)
		}
		attrs["RedrivePolicy"] = string(raw)
	}
	return attrs, nil
}
