package dynamo

import (
	"context"
	"fmt"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"

	"github.com/rewardrelay/rewardrelay/shared/awstest"
	"github.com/rewardrelay/rewardrelay/shared/reward"
)

// itemSize is an item's size by DynamoDB's rules: each attribute's name
// and value; a string's UTF-8 bytes, a number's significant digits over two
// plus one, a string set its members' bytes, a list or map 3 bytes and 1 a
// member besides their members.
func itemSize(item map[string]types.AttributeValue) int {
	n := 0
	for name, v := range item {
		n += len(name) + valueSize(v)
	}
	return n
}

func valueSize(v types.AttributeValue) int {
	switch v := v.(type) {
	case *types.AttributeValueMemberS:
		return len(v.Value)
	case *types.AttributeValueMemberSS:
		n := 0
		for _, m := range v.Value {
			n += len(m)
		}
		return n
	case *types.AttributeValueMemberN:
		digits := strings.TrimLeft(strings.NewReplacer("-", "", ".", "").Replace(v.Value), "0")
		digits = strings.TrimRight(digits, "0")
		return (len(digits)+1)/2 + 1
	case *types.AttributeValueMemberBOOL, *types.AttributeValueMemberNULL:
		return 1
	case *types.AttributeValueMemberL:
		n := 3 + len(v.Value)
		for _, m := range v.Value {
			n += valueSize(m)
		}
		return n
	case *types.AttributeValueMemberM:
		return 3 + len(v.Value) + itemSize(v.Value)
	}
	return 0
}

// TestABalanceItemWithItsEntriesStaysUnderOneKilobyte: a transaction
// writes 2 units per KB of each item. The balance item a delivery leaves,
// with identifiers as long as the platforms' (UUIDs) and its entry, stays
// under 1 KB with one entry and with two, so the cost model's 2 units an
// item hold.
func TestABalanceItemWithItsEntriesStaysUnderOneKilobyte(t *testing.T) {
	client, table := awstest.Table(t)
	s := &Store{Client: client, Table: table}
	at := time.Date(2026, 11, 20, 12, 0, 0, 123456789, time.UTC)
	acct := reward.Account{Provider: reward.AgentRef, Recipient: reward.Affiliate("3f2a9c1e-7b4d-4e8a-9c2f-1d6b8e0a5f37"), Unit: reward.Cash, Currency: "usd"}
	in := reward.Intent{Provider: reward.AgentRef, CommissionID: "c0a8012e-5f3b-4d9a-8e7c-2b1f6a4d9e80", Target: reward.TargetApproved, Account: acct, Amount: 123456, At: at}
	c, err := reward.Plan(nil, in)
	if err != nil {
		t.Fatal(err)
	}
	ev := reward.EventRecord{Provider: reward.AgentRef, ID: "9d1e4b7a-2c6f-4a8e-b3d5-7f0c1a9e6b24", Type: "conversion.approved", ReceivedAt: at, ExpiresAt: at.Add(time.Hour)}
	if err := s.Apply(t.Context(), ev, c); err != nil {
		t.Fatal(err)
	}
	out, err := client.GetItem(t.Context(), &dynamodb.GetItemInput{TableName: aws.String(table), Key: key(balancePK(acct), skBalance), ConsistentRead: aws.Bool(true)})
	if err != nil || out.Item == nil {
		t.Fatalf("balance item: %v %v", out, err)
	}
	entries, _ := out.Item["entries"].(*types.AttributeValueMemberL)
	if entries == nil || len(entries.Value) == 0 {
		t.Fatalf("balance item %v: want the write's entry", out.Item)
	}
	size := itemSize(out.Item)
	// A write of two entries to one account (a redemption captured, a
	// reversal with its void): the same item with its entry twice.
	two := map[string]types.AttributeValue{}
	for k, v := range out.Item {
		two[k] = v
	}
	two["entries"] = &types.AttributeValueMemberL{Value: []types.AttributeValue{entries.Value[0], entries.Value[0]}}
	t.Logf("balance item: %d bytes with %d entry, %d with two", size, len(entries.Value), itemSize(two))
	for _, n := range []int{size, itemSize(two)} {
		if n >= 1024 {
			t.Errorf("a balance item is %d bytes: its transaction writes cost 4 units, not 2", n)
		}
	}
}

// TestACommissionItemWithItsEventIdsStaysUnderOneKilobyte: the commission
// item keeps the ids of the events applied to it and of those that changed
// nothing against it. With identifiers as long as the platforms' (UUIDs),
// its delivery requested, and the ids of several deliveries of its events
// (the platforms send 1.63 a reward), it stays under 1 KB: a transaction
// writes it for 2 units and keeping an event on it is a one-unit
// UpdateItem, as the cost model counts.
func TestACommissionItemWithItsEventIdsStaysUnderOneKilobyte(t *testing.T) {
	client, table := awstest.Table(t)
	s := &Store{Client: client, Table: table}
	at := time.Date(2026, 11, 20, 12, 0, 0, 123456789, time.UTC)
	acct := reward.Account{Provider: reward.AgentRef, Recipient: reward.Affiliate("3f2a9c1e-7b4d-4e8a-9c2f-1d6b8e0a5f37"), Unit: reward.Cash, Currency: "usd"}
	const id = "c0a8012e-5f3b-4d9a-8e7c-2b1f6a4d9e80"
	in := reward.Intent{Provider: reward.AgentRef, CommissionID: id, Target: reward.TargetPending, Account: acct, Amount: 123456, Acknowledge: true, At: at}
	ev := func(n int) reward.EventRecord {
		return reward.EventRecord{Provider: reward.AgentRef, ID: fmt.Sprintf("9d1e4b7a-2c6f-4a8e-b3d5-7f0c1a9e6b%02d", n), Type: "conversion.created", CommissionID: id, ReceivedAt: at, ExpiresAt: at.Add(time.Hour)}
	}
	c, err := reward.Plan(nil, in)
	if err != nil {
		t.Fatal(err)
	}
	if err := s.Apply(t.Context(), ev(0), c); err != nil {
		t.Fatal(err)
	}
	in.Target = reward.TargetApproved
	pending := c.After
	if c, err = reward.Plan(&pending, in); err != nil {
		t.Fatal(err)
	}
	if err := s.Apply(t.Context(), ev(1), c); err != nil {
		t.Fatal(err)
	}
	for n := 2; n < 6; n++ {
		if err := s.RecordEvent(t.Context(), ev(n)); err != nil {
			t.Fatal(err)
		}
	}
	out, err := client.GetItem(t.Context(), &dynamodb.GetItemInput{TableName: aws.String(table), Key: key(commissionPK(reward.AgentRef, id), skState), ConsistentRead: aws.Bool(true)})
	if err != nil || out.Item == nil {
		t.Fatalf("commission item: %v %v", out, err)
	}
	if set, _ := out.Item[attrEvents].(*types.AttributeValueMemberSS); set == nil || len(set.Value) != 6 {
		t.Fatalf("commission item %v: want the ids of its 6 events", out.Item)
	}
	if _, ok := out.Item["outbox"]; !ok {
		t.Fatalf("commission item %v: want its delivery in the outbox", out.Item)
	}
	size := itemSize(out.Item)
	t.Logf("commission item: %d bytes with 6 event ids", size)
	if size >= 1024 {
		t.Errorf("a commission item is %d bytes: its transaction writes cost 4 units and keeping an event 2, not 2 and 1", size)
	}
}

// capacityAPI records the write units each UpdateItem consumed, the
// indexes' included.
type capacityAPI struct {
	API
	units []float64
}

func (c *capacityAPI) UpdateItem(ctx context.Context, in *dynamodb.UpdateItemInput, optFns ...func(*dynamodb.Options)) (*dynamodb.UpdateItemOutput, error) {
	in.ReturnConsumedCapacity = types.ReturnConsumedCapacityIndexes
	out, err := c.API.UpdateItem(ctx, in, optFns...)
	if out != nil && out.ConsumedCapacity != nil {
		c.units = append(c.units, aws.ToFloat64(out.ConsumedCapacity.CapacityUnits))
	}
	return out, err
}

// TestKeepingAnEventOnACommissionAwaitingAcknowledgementWritesTheOutbox:
// an event kept on a pending commission is one write unit, as the record
// it replaced was; kept on a commission whose delivery awaits the
// platform's acknowledgement it is two, the outbox index (which projects
// the whole commission) written too. The cost model counts one.
func TestKeepingAnEventOnACommissionAwaitingAcknowledgementWritesTheOutbox(t *testing.T) {
	client, table := awstest.Table(t)
	api := &capacityAPI{API: client}
	s := &Store{Client: api, Table: table}
	at := time.Date(2026, 11, 20, 12, 0, 0, 0, time.UTC)
	acct := reward.Account{Provider: reward.FirstPromoter, Recipient: reward.Promoter("7"), Unit: reward.Points}
	for _, c := range []struct {
		id     string
		target reward.Target
	}{{"1", reward.TargetPending}, {"2", reward.TargetApproved}} {
		change, err := reward.Plan(nil, reward.Intent{Provider: reward.FirstPromoter, CommissionID: c.id, Target: c.target, Account: acct, Amount: 500, Acknowledge: true, At: at})
		if err != nil {
			t.Fatal(err)
		}
		if err := s.Apply(t.Context(), reward.EventRecord{Provider: reward.FirstPromoter, ID: "applied-" + c.id}, change); err != nil {
			t.Fatal(err)
		}
		kept := reward.EventRecord{Provider: reward.FirstPromoter, ID: "kept-" + c.id, Type: "commission.updated", CommissionID: c.id, ReceivedAt: at, ExpiresAt: at.Add(time.Hour)}
		if err := s.RecordEvent(t.Context(), kept); err != nil {
			t.Fatal(err)
		}
	}
	out, err := s.Outbox(t.Context(), reward.FirstPromoter, 10)
	if err != nil || len(out) != 1 || out[0].ID != "2" {
		t.Fatalf("outbox %+v %v: want the approved commission alone", out, err)
	}
	if want := []float64{1, 2}; !slices.Equal(api.units, want) {
		t.Errorf("write units of the events kept on a pending and on an approved commission: %v, want %v", api.units, want)
	}
}
