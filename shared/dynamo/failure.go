package dynamo

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/feature/dynamodb/attributevalue"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"

	"github.com/rewardrelay/rewardrelay/shared/reward"
)

var _ reward.FailureLog = (*Store)(nil)

const typeFailure = "failure"

func failurePK(messageID string) string { return "FAILURE#" + messageID }

type failureItem struct {
	PK        string `dynamodbav:"pk"`
	SK        string `dynamodbav:"sk"`
	Type      string `dynamodbav:"type"`
	MessageID string `dynamodbav:"message_id"`
	Provider  string `dynamodbav:"provider"`
	EventID   string `dynamodbav:"event_id"`
	EventType string `dynamodbav:"event_type"`
	Reason    string `dynamodbav:"reason"`
	Receives  int    `dynamodbav:"receives"`
	At        string `dynamodbav:"at"`
	// Expires is the table's TTL attribute.
	Expires int64 `dynamodbav:"expires_at"`
}

// RecordFailure implements reward.FailureLog: one PutItem, which replaces
// the message's earlier failure; DynamoDB deletes it after ExpiresAt.
func (s *Store) RecordFailure(ctx context.Context, f reward.MessageFailure) error {
	item, err := attributevalue.MarshalMap(failureItem{
		PK: failurePK(f.MessageID), SK: skState, Type: typeFailure, MessageID: f.MessageID, Provider: string(f.Provider),
		EventID: f.EventID, EventType: f.EventType, Reason: f.Reason, Receives: f.Receives,
		At: f.At.UTC().Format(time.RFC3339Nano), Expires: f.ExpiresAt.Unix(),
	})
	if err != nil {
		return fmt.Errorf("marshal failure of message %s: %w", f.MessageID, err)
	}
	if _, err := s.Client.PutItem(ctx, &dynamodb.PutItemInput{TableName: aws.String(s.Table), Item: item}); err != nil {
		return fmt.Errorf("record failure of message %s: %w", f.MessageID, err)
	}
	return nil
}

// Failure implements reward.FailureLog.
func (s *Store) Failure(ctx context.Context, messageID string) (reward.MessageFailure, error) {
	var item failureItem
	err := s.get(ctx, failurePK(messageID), &item)
	if errors.Is(err, reward.ErrNotFound) {
		return reward.MessageFailure{}, reward.ErrNotFound
	}
	if err != nil {
		return reward.MessageFailure{}, fmt.Errorf("read failure of message %s: %w", messageID, err)
	}
	at, _ := time.Parse(time.RFC3339Nano, item.At)
	return reward.MessageFailure{
		MessageID: item.MessageID, Provider: reward.Provider(item.Provider), EventID: item.EventID, EventType: item.EventType,
		Reason: item.Reason, Receives: item.Receives, At: at, ExpiresAt: time.Unix(item.Expires, 0).UTC(),
	}, nil
}
