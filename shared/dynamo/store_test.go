package dynamo

import (
	"context"
	"errors"
	"slices"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/feature/dynamodb/attributevalue"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"

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

// TestOutboxItemsWrittenBeforeRequestedAt reads an outbox item as the
// previous version wrote it (outbox_at only): it keeps its age through a
// failed acknowledgement.
func TestOutboxItemsWrittenBeforeRequestedAt(t *testing.T) {
	client, table := awstest.Table(t)
	s := &Store{Client: client, Table: table}
	delivered := time.Date(2026, 11, 20, 12, 0, 0, 0, time.UTC)
	acct := reward.Account{Provider: reward.FirstPromoter, Recipient: reward.Promoter("12"), Unit: reward.Points}
	item, err := attributevalue.MarshalMap(commissionItem{
		PK: commissionPK(reward.FirstPromoter, "81"), SK: skState, Type: typeCommission, accountItem: accountOf(acct),
		ID: "81", Amount: 10, Status: string(reward.Approved), Version: 1, Fulfilment: string(reward.Requested),
		UpdatedAt: delivered.Format(time.RFC3339Nano), Outbox: string(reward.FirstPromoter), OutboxAt: delivered.Format(time.RFC3339Nano),
	})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := client.PutItem(t.Context(), &dynamodb.PutItemInput{TableName: aws.String(table), Item: item}); err != nil {
		t.Fatal(err)
	}
	c, err := s.Commission(t.Context(), reward.FirstPromoter, "81")
	if err != nil || !c.RequestedAt.Equal(delivered) {
		t.Fatalf("read %+v %v, want requested at %s", c, err, delivered)
	}
	c.RequestedAt = time.Time{}
	c.Fulfilment, c.FulfilmentError, c.UpdatedAt = reward.Failed, "not confirmed", delivered.Add(time.Hour)
	if err := s.SetFulfilment(t.Context(), c, reward.Requested); err != nil {
		t.Fatal(err)
	}
	out, err := s.Outbox(t.Context(), reward.FirstPromoter, 10)
	if err != nil || len(out) != 1 || !out[0].RequestedAt.Equal(delivered) || out[0].Fulfilment != reward.Failed {
		t.Errorf("outbox %+v %v, want 81 failed, requested at %s", out, err, delivered)
	}
}

// countingAPI records the items of each transaction and the single-item
// writes.
type countingAPI struct {
	API
	items   []int
	puts    int
	updates int
}

func (c *countingAPI) TransactWriteItems(ctx context.Context, in *dynamodb.TransactWriteItemsInput, optFns ...func(*dynamodb.Options)) (*dynamodb.TransactWriteItemsOutput, error) {
	c.items = append(c.items, len(in.TransactItems))
	return c.API.TransactWriteItems(ctx, in, optFns...)
}

func (c *countingAPI) PutItem(ctx context.Context, in *dynamodb.PutItemInput, optFns ...func(*dynamodb.Options)) (*dynamodb.PutItemOutput, error) {
	c.puts++
	return c.API.PutItem(ctx, in, optFns...)
}

func (c *countingAPI) UpdateItem(ctx context.Context, in *dynamodb.UpdateItemInput, optFns ...func(*dynamodb.Options)) (*dynamodb.UpdateItemOutput, error) {
	c.updates++
	return c.API.UpdateItem(ctx, in, optFns...)
}

// TestAStateChangeIsOneTransactionOfThreeItems: a creation and an approval
// each write the commission (the event id on it), one entry and one
// balance; no event record of their own, and no check of one. An event
// that changed nothing is then one UpdateItem of its commission.
func TestAStateChangeIsOneTransactionOfThreeItems(t *testing.T) {
	client, table := awstest.Table(t)
	api := &countingAPI{API: client}
	s := &Store{Client: api, Table: table}
	at := time.Date(2026, 11, 20, 12, 0, 0, 0, time.UTC)
	acct := reward.Account{Provider: reward.FirstPromoter, Recipient: reward.Promoter("12"), Unit: reward.Points}
	in := reward.Intent{Provider: reward.FirstPromoter, CommissionID: "41", Target: reward.TargetPending, Account: acct, Amount: 500, Acknowledge: true, At: at}
	ev := func(id string) reward.EventRecord {
		return reward.EventRecord{Provider: reward.FirstPromoter, ID: id, Type: "commission.updated", ReceivedAt: at, ExpiresAt: at.Add(time.Hour)}
	}
	created, err := reward.Plan(nil, in)
	if err != nil {
		t.Fatal(err)
	}
	if err := s.Apply(t.Context(), ev("e1"), created); err != nil {
		t.Fatal(err)
	}
	cur, err := s.Commission(t.Context(), reward.FirstPromoter, "41")
	if err != nil {
		t.Fatal(err)
	}
	in.Target = reward.TargetApproved
	approved, err := reward.Plan(&cur, in)
	if err != nil {
		t.Fatal(err)
	}
	if err := s.Apply(t.Context(), ev("e2"), approved); err != nil {
		t.Fatal(err)
	}
	if want := []int{3, 3}; !slices.Equal(api.items, want) {
		t.Errorf("transactions of %v items, want %v", api.items, want)
	}
	stale := ev("e3")
	stale.CommissionID = "41"
	if err := s.RecordEvent(t.Context(), stale); err != nil {
		t.Fatal(err)
	}
	if api.puts != 0 || api.updates != 1 {
		t.Errorf("an event that changed nothing: %d PutItem and %d UpdateItem, want the commission's one UpdateItem", api.puts, api.updates)
	}
}

// busyAPI answers UpdateItem as DynamoDB does while a transaction is in
// flight on the item.
type busyAPI struct{ API }

func (busyAPI) UpdateItem(context.Context, *dynamodb.UpdateItemInput, ...func(*dynamodb.Options)) (*dynamodb.UpdateItemOutput, error) {
	return nil, &types.TransactionConflictException{Message: aws.String("Transaction is ongoing for the item")}
}

// TestKeepingAnEventDuringATransactionOnItsCommissionIsAConflict: the
// SDK does not retry TransactionConflictException; the store says
// reward.ErrConflict, which the processor plans again from.
func TestKeepingAnEventDuringATransactionOnItsCommissionIsAConflict(t *testing.T) {
	client, table := awstest.Table(t)
	s := &Store{Client: busyAPI{client}, Table: table}
	ev := reward.EventRecord{Provider: reward.FirstPromoter, ID: "e1", CommissionID: "41", ExpiresAt: time.Now().Add(time.Hour)}
	if err := s.RecordEvent(t.Context(), ev); !errors.Is(err, reward.ErrConflict) {
		t.Errorf("RecordEvent during a transaction: %v, want ErrConflict", err)
	}
}
