package dynamo

import (
	"context"
	"fmt"
	"sort"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/feature/dynamodb/attributevalue"
	"github.com/aws/aws-sdk-go-v2/feature/dynamodb/expression"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"

	"github.com/rewardrelay/rewardrelay/shared/reward"
)

var _ reward.RedemptionStore = (*Store)(nil)

// Indexes of the Rewards API.
const (
	// RecipientIndex lists a recipient's entries and balances (keys only):
	// entries sort under "E#<time>#<id>", balances under "B#<account>".
	RecipientIndex = "recipient"
	// HoldsIndex is the sparse index of held redemptions by expiry.
	HoldsIndex = "holds"
)

const (
	typeRedemption = "redemption"
	// openHold is the value of "open_hold" on held redemptions: the one
	// partition of HoldsIndex.
	openHold = "held"
)

func redemptionPK(id string) string { return "REDEMPTION#" + id }

// recipientIndex is what puts an item in RecipientIndex.
type recipientIndex struct {
	Of   string `dynamodbav:"recipient_of,omitempty"`
	Sort string `dynamodbav:"recipient_sort,omitempty"`
}

func entrySort(e reward.Entry) string                         { return "E#" + reward.EntrySortKey(e) }
func balanceSort(a reward.Account) string                     { return "B#" + a.String() }
func holdExpiry(t time.Time) string                           { return t.UTC().Format("2006-01-02T15:04:05.000000000Z") }
func timeText(t time.Time) string                             { return t.UTC().Format(time.RFC3339Nano) }
func parseTime(s string) (t time.Time)                        { t, _ = time.Parse(time.RFC3339Nano, s); return t }
func redemptionKey(id string) map[string]types.AttributeValue { return key(redemptionPK(id), skState) }

type redemptionItem struct {
	PK   string `dynamodbav:"pk"`
	SK   string `dynamodbav:"sk"`
	Type string `dynamodbav:"type"`
	accountItem
	ID            string `dynamodbav:"id"`
	Amount        int64  `dynamodbav:"amount"`
	Reference     string `dynamodbav:"reference,omitempty"`
	Status        string `dynamodbav:"status"`
	HoldExpiresAt string `dynamodbav:"hold_expires_at,omitempty"`
	// OpenHold puts a held redemption in HoldsIndex; it is removed when
	// the hold is captured or voided.
	OpenHold       string `dynamodbav:"open_hold,omitempty"`
	IdempotencyKey string `dynamodbav:"idempotency_key"`
	Fingerprint    string `dynamodbav:"fingerprint"`
	Actor          string `dynamodbav:"actor,omitempty"`
	CreatedAt      string `dynamodbav:"created_at"`
	UpdatedAt      string `dynamodbav:"updated_at"`
	Version        int64  `dynamodbav:"version"`
}

func redemptionOf(r reward.Redemption) redemptionItem {
	item := redemptionItem{
		PK: redemptionPK(r.ID), SK: skState, Type: typeRedemption, accountItem: accountOf(r.Account),
		ID: r.ID, Amount: r.Amount, Reference: r.Reference, Status: string(r.Status),
		IdempotencyKey: r.Key, Fingerprint: r.Fingerprint, Actor: r.Actor,
		CreatedAt: timeText(r.CreatedAt), UpdatedAt: timeText(r.UpdatedAt), Version: r.Version,
	}
	if !r.HoldExpiresAt.IsZero() {
		item.HoldExpiresAt = holdExpiry(r.HoldExpiresAt)
	}
	if r.Status == reward.RedemptionHeld {
		item.OpenHold = openHold
	}
	return item
}

func (i redemptionItem) redemption() reward.Redemption {
	r := reward.Redemption{
		ID: i.ID, Account: i.account(), Amount: i.Amount, Reference: i.Reference, Status: reward.RedemptionStatus(i.Status),
		Key: i.IdempotencyKey, Fingerprint: i.Fingerprint, Actor: i.Actor,
		CreatedAt: parseTime(i.CreatedAt), UpdatedAt: parseTime(i.UpdatedAt), Version: i.Version,
	}
	if i.HoldExpiresAt != "" {
		r.HoldExpiresAt, _ = time.Parse("2006-01-02T15:04:05.000000000Z", i.HoldExpiresAt)
	}
	return r
}

func decodeRedemption(av map[string]types.AttributeValue) (reward.Redemption, error) {
	var item redemptionItem
	if err := attributevalue.UnmarshalMap(av, &item); err != nil {
		return reward.Redemption{}, fmt.Errorf("decode redemption: %w", err)
	}
	return item.redemption(), nil
}

// Redeem implements reward.RedemptionStore: one TransactWriteItems of the
// redemption (its own idempotency record: its id is derived from the
// recipient and the key), its entry and the balance, conditional on the
// available balance covering the debit.
func (s *Store) Redeem(ctx context.Context, c reward.RedemptionChange) error {
	r := c.After
	item, err := attributevalue.MarshalMap(redemptionOf(r))
	if err != nil {
		return fmt.Errorf("marshal redemption %s: %w", r.ID, err)
	}
	parts := []part{{
		item: types.TransactWriteItem{Put: &types.Put{
			TableName: aws.String(s.Table), Item: item,
			ConditionExpression:                 aws.String("attribute_not_exists(pk)"),
			ReturnValuesOnConditionCheckFailure: types.ReturnValuesOnConditionCheckFailureAllOld,
		}},
		onCCF: func(old map[string]types.AttributeValue) error {
			cur, err := decodeRedemption(old)
			if err != nil {
				return err
			}
			return &reward.RedemptionExists{Current: cur}
		},
	}}
	ep, err := s.entryParts(c.Entries)
	if err != nil {
		return err
	}
	parts = append(parts, ep...)
	var d reward.Deltas
	for _, e := range c.Entries {
		d = d.Add(e.Deltas)
	}
	upd, err := balanceUpdate(r.Account, c.Entries)
	if err != nil {
		return err
	}
	// A balance that does not exist has nothing available: the condition
	// fails on the missing attribute, and the item is not created.
	e, err := build(expression.NewBuilder().WithUpdate(upd).
		WithCondition(expression.Name("available").GreaterThanEqual(expression.Value(-d.Available))))
	if err != nil {
		return err
	}
	parts = append(parts, part{
		item: types.TransactWriteItem{Update: &types.Update{
			TableName: aws.String(s.Table), Key: key(balancePK(r.Account), skBalance),
			UpdateExpression: e.Update(), ConditionExpression: e.Condition(),
			ExpressionAttributeNames: e.Names(), ExpressionAttributeValues: e.Values(),
			ReturnValuesOnConditionCheckFailure: types.ReturnValuesOnConditionCheckFailureAllOld,
		}},
		onCCF: func(old map[string]types.AttributeValue) error {
			var b balanceItem
			if err := attributevalue.UnmarshalMap(old, &b); err != nil {
				return fmt.Errorf("decode balance: %w", err)
			}
			return &reward.Insufficient{Available: b.Available}
		},
	})
	return s.transact(ctx, "redeem "+r.ID, parts)
}

// TransitionRedemption implements reward.RedemptionStore: the redemption
// (conditional on the planned status and version), its entry and the
// balance in one TransactWriteItems.
func (s *Store) TransitionRedemption(ctx context.Context, c reward.RedemptionChange) error {
	if c.Before == nil {
		return fmt.Errorf("transition of redemption %s without its state: %w", c.After.ID, reward.ErrInvalid)
	}
	a := c.After
	upd := expression.
		Set(expression.Name("status"), expression.Value(string(a.Status))).
		Set(expression.Name("updated_at"), expression.Value(timeText(a.UpdatedAt))).
		Set(expression.Name("version"), expression.Value(c.Before.Version+1))
	if a.Status != reward.RedemptionHeld {
		upd = upd.Remove(expression.Name("open_hold"))
	}
	cond := expression.Name("status").Equal(expression.Value(string(c.Before.Status))).
		And(expression.Name("version").Equal(expression.Value(c.Before.Version)))
	e, err := build(expression.NewBuilder().WithUpdate(upd).WithCondition(cond))
	if err != nil {
		return err
	}
	parts := []part{{
		item: types.TransactWriteItem{Update: &types.Update{
			TableName: aws.String(s.Table), Key: redemptionKey(a.ID),
			UpdateExpression: e.Update(), ConditionExpression: e.Condition(),
			ExpressionAttributeNames: e.Names(), ExpressionAttributeValues: e.Values(),
			ReturnValuesOnConditionCheckFailure: types.ReturnValuesOnConditionCheckFailureAllOld,
		}},
		onCCF: func(old map[string]types.AttributeValue) error {
			if len(old) == 0 {
				return fmt.Errorf("redemption %s: %w", a.ID, reward.ErrNotFound)
			}
			cur, err := decodeRedemption(old)
			if err != nil {
				return err
			}
			return &reward.RedemptionMismatch{Current: cur}
		},
	}}
	return s.write(ctx, fmt.Sprintf("redemption %s %s", a.ID, a.Status), parts, c.Entries)
}

// Redemption implements reward.RedemptionStore.
func (s *Store) Redemption(ctx context.Context, id string) (reward.Redemption, error) {
	var item redemptionItem
	if err := s.get(ctx, redemptionPK(id), &item); err != nil {
		return reward.Redemption{}, err
	}
	return item.redemption(), nil
}

// RedemptionHistory implements reward.RedemptionStore: the redemption, then
// one Query of its entries' partition.
func (s *Store) RedemptionHistory(ctx context.Context, id string) (reward.Redemption, []reward.Entry, error) {
	r, err := s.Redemption(ctx, id)
	if err != nil {
		return r, nil, err
	}
	var l reward.Ledger
	err = s.partition(ctx, subjectPK(r.Account.Provider, "redemption:"+id), "entries of redemption "+id, func(av map[string]types.AttributeValue) error {
		return addItem(&l, av)
	})
	sort.Slice(l.Entries, func(i, j int) bool { return reward.EntrySortKey(l.Entries[i]) < reward.EntrySortKey(l.Entries[j]) })
	return r, l.Entries, err
}

// indexKeys queries RecipientIndex for the table keys of a recipient's
// items (at most limit, 0 for all).
func (s *Store) indexKeys(ctx context.Context, r reward.Recipient, kc expression.KeyConditionBuilder, forward bool, limit int) ([]map[string]types.AttributeValue, error) {
	e, err := build(expression.NewBuilder().WithKeyCondition(kc))
	if err != nil {
		return nil, err
	}
	in := &dynamodb.QueryInput{
		TableName: aws.String(s.Table), IndexName: aws.String(RecipientIndex),
		KeyConditionExpression: e.KeyCondition(), ExpressionAttributeNames: e.Names(), ExpressionAttributeValues: e.Values(),
		ScanIndexForward: aws.Bool(forward),
	}
	if limit > 0 {
		in.Limit = aws.Int32(int32(limit))
	}
	var keys []map[string]types.AttributeValue
	for {
		out, err := s.Client.Query(ctx, in)
		if err != nil {
			return nil, fmt.Errorf("read the index of %s: %w", r, err)
		}
		for _, it := range out.Items {
			keys = append(keys, map[string]types.AttributeValue{"pk": it["pk"], "sk": it["sk"], "recipient_sort": it["recipient_sort"]})
		}
		if len(out.LastEvaluatedKey) == 0 || limit > 0 && len(keys) >= limit {
			return keys, nil
		}
		in.ExclusiveStartKey = out.LastEvaluatedKey
	}
}

// items reads the table items of keys (BatchGetItem, 100 at a time,
// consistently), in the order of keys; keys no longer there are left out.
func (s *Store) items(ctx context.Context, keys []map[string]types.AttributeValue) ([]map[string]types.AttributeValue, error) {
	got := map[string]map[string]types.AttributeValue{}
	id := func(av map[string]types.AttributeValue) string {
		pk, _ := av["pk"].(*types.AttributeValueMemberS)
		sk, _ := av["sk"].(*types.AttributeValueMemberS)
		if pk == nil || sk == nil {
			return ""
		}
		return pk.Value + "\x00" + sk.Value
	}
	for start := 0; start < len(keys); start += 100 {
		var batch []map[string]types.AttributeValue
		for _, k := range keys[start:min(start+100, len(keys))] {
			batch = append(batch, map[string]types.AttributeValue{"pk": k["pk"], "sk": k["sk"]})
		}
		req := map[string]types.KeysAndAttributes{s.Table: {Keys: batch, ConsistentRead: aws.Bool(true)}}
		for len(req) > 0 {
			out, err := s.Client.BatchGetItem(ctx, &dynamodb.BatchGetItemInput{RequestItems: req})
			if err != nil {
				return nil, fmt.Errorf("read %d items: %w", len(batch), err)
			}
			for _, av := range out.Responses[s.Table] {
				got[id(av)] = av
			}
			req = out.UnprocessedKeys
		}
	}
	var out []map[string]types.AttributeValue
	for _, k := range keys {
		if av, ok := got[id(k)]; ok {
			out = append(out, av)
		}
	}
	return out, nil
}

// RecipientBalances implements reward.RedemptionStore: a Query of
// RecipientIndex and a BatchGetItem of the balances it names.
func (s *Store) RecipientBalances(ctx context.Context, r reward.Recipient) ([]reward.Balance, error) {
	keys, err := s.indexKeys(ctx, r, expression.Key("recipient_of").Equal(expression.Value(string(r))).
		And(expression.Key("recipient_sort").BeginsWith("B#")), true, 0)
	if err != nil {
		return nil, err
	}
	items, err := s.items(ctx, keys)
	if err != nil {
		return nil, err
	}
	var out []reward.Balance
	for _, av := range items {
		var b balanceItem
		if err := attributevalue.UnmarshalMap(av, &b); err != nil {
			return nil, fmt.Errorf("decode balance: %w", err)
		}
		out = append(out, b.balance())
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Account.String() < out[j].Account.String() })
	return out, nil
}

// RecipientEntries implements reward.RedemptionStore: a Query of
// RecipientIndex, newest first, one more than asked (to know whether a page
// follows), and a BatchGetItem of the entries.
func (s *Store) RecipientEntries(ctx context.Context, r reward.Recipient, limit int, cursor string) ([]reward.Entry, string, error) {
	of := expression.Key("recipient_of").Equal(expression.Value(string(r)))
	kc := of.And(expression.Key("recipient_sort").BeginsWith("E#"))
	after := ""
	if cursor != "" {
		k, _, err := reward.ParseEntryCursor(cursor)
		if err != nil {
			return nil, "", err
		}
		after = "E#" + k
		// Between is inclusive: the cursor's own entry comes first and is
		// skipped. "E#" bounds it below: balances sort under "B#".
		kc = of.And(expression.Key("recipient_sort").Between(expression.Value("E#"), expression.Value(after)))
	}
	want := limit + 1
	if after != "" {
		want++
	}
	keys, err := s.indexKeys(ctx, r, kc, false, want)
	if err != nil {
		return nil, "", err
	}
	var page []map[string]types.AttributeValue
	for _, k := range keys {
		if v, _ := k["recipient_sort"].(*types.AttributeValueMemberS); v != nil && v.Value == after {
			continue
		}
		page = append(page, k)
	}
	more := len(page) > limit
	if more {
		page = page[:limit]
	}
	items, err := s.items(ctx, page)
	if err != nil {
		return nil, "", err
	}
	var out []reward.Entry
	for _, av := range items {
		var item entryItem
		if err := attributevalue.UnmarshalMap(av, &item); err != nil {
			return nil, "", fmt.Errorf("decode entry: %w", err)
		}
		out = append(out, item.entry())
	}
	next := ""
	if more && len(out) > 0 {
		next = reward.EntryCursor(out[len(out)-1])
	}
	return out, next, nil
}

// ExpiredHolds implements reward.RedemptionStore: one Query of HoldsIndex.
func (s *Store) ExpiredHolds(ctx context.Context, at time.Time, limit int) ([]reward.Redemption, error) {
	e, err := build(expression.NewBuilder().WithKeyCondition(expression.Key("open_hold").Equal(expression.Value(openHold)).
		And(expression.Key("hold_expires_at").LessThanEqual(expression.Value(holdExpiry(at))))))
	if err != nil {
		return nil, err
	}
	out, err := s.Client.Query(ctx, &dynamodb.QueryInput{
		TableName: aws.String(s.Table), IndexName: aws.String(HoldsIndex),
		KeyConditionExpression: e.KeyCondition(), ExpressionAttributeNames: e.Names(), ExpressionAttributeValues: e.Values(),
		Limit: aws.Int32(int32(limit)),
	})
	if err != nil {
		return nil, fmt.Errorf("read expired holds: %w", err)
	}
	var holds []reward.Redemption
	for _, av := range out.Items {
		r, err := decodeRedemption(av)
		if err != nil {
			return nil, err
		}
		holds = append(holds, r)
	}
	return holds, nil
}
