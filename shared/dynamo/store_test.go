package dynamo

import (
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/feature/dynamodb/attributevalue"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"

	"github.com/rewardrelay/rewardrelay/shared/awstest"
	"github.com/rewardrelay/rewardrelay/shared/fake"
	"github.com/rewardrelay/rewardrelay/shared/reward"
)

func TestStoreContract(t *testing.T) {
	fake.RunStoreContract(t, func(t *testing.T) reward.Store {
		client, table := awstest.Table(t)
		return &Store{Client: client, Table: table}
	})
}

func TestAHoldStoredWithoutATimeIsReplacedByANewerOne(t *testing.T) {
	client, table := awstest.Table(t)
	s := &Store{Client: client, Table: table}
	a1 := reward.Affiliate("a1")
	// A hold as stored before holds kept their time.
	item, err := attributevalue.MarshalMap(map[string]any{
		"pk": holdPK(reward.AgentRef, a1), "sk": skHold, "type": typeHold, "provider": "agentref", "recipient": string(a1), "held": true, "event_id": "old",
	})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := client.PutItem(t.Context(), &dynamodb.PutItemInput{TableName: aws.String(table), Item: item}); err != nil {
		t.Fatal(err)
	}
	if held, err := s.Held(t.Context(), reward.AgentRef, a1); err != nil || !held {
		t.Fatalf("Held: %v %v, want the stored hold", held, err)
	}
	release := reward.Hold{Provider: reward.AgentRef, Recipient: a1, At: time.Date(2026, 11, 20, 12, 0, 0, 0, time.UTC)}
	if err := s.SetHold(t.Context(), reward.EventRecord{}, release); err != nil {
		t.Fatal(err)
	}
	if held, _ := s.Held(t.Context(), reward.AgentRef, a1); held {
		t.Error("still held after a release")
	}
	if got, err := s.Holds(t.Context(), reward.AgentRef); err != nil || len(got) != 1 || got[0] != release {
		t.Errorf("Holds: %+v %v, want the release", got, err)
	}
}
