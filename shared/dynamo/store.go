// Package dynamo keeps the reward ledger in one DynamoDB table: every state
// change is one TransactWriteItems (conditional commission state with the
// ids of the events applied to it, append-only entries, balance deltas),
// and DynamoDB's cancellation
// reasons are translated into the domain's errors here and nowhere else.
package dynamo

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"sort"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/feature/dynamodb/attributevalue"
	"github.com/aws/aws-sdk-go-v2/feature/dynamodb/expression"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"

	"github.com/rewardrelay/rewardrelay/shared/reward"
)

// API is the part of the DynamoDB client the store uses.
type API interface {
	TransactWriteItems(ctx context.Context, in *dynamodb.TransactWriteItemsInput, optFns ...func(*dynamodb.Options)) (*dynamodb.TransactWriteItemsOutput, error)
	PutItem(ctx context.Context, in *dynamodb.PutItemInput, optFns ...func(*dynamodb.Options)) (*dynamodb.PutItemOutput, error)
	GetItem(ctx context.Context, in *dynamodb.GetItemInput, optFns ...func(*dynamodb.Options)) (*dynamodb.GetItemOutput, error)
	UpdateItem(ctx context.Context, in *dynamodb.UpdateItemInput, optFns ...func(*dynamodb.Options)) (*dynamodb.UpdateItemOutput, error)
	Query(ctx context.Context, in *dynamodb.QueryInput, optFns ...func(*dynamodb.Options)) (*dynamodb.QueryOutput, error)
	Scan(ctx context.Context, in *dynamodb.ScanInput, optFns ...func(*dynamodb.Options)) (*dynamodb.ScanOutput, error)
	DeleteItem(ctx context.Context, in *dynamodb.DeleteItemInput, optFns ...func(*dynamodb.Options)) (*dynamodb.DeleteItemOutput, error)
	BatchGetItem(ctx context.Context, in *dynamodb.BatchGetItemInput, optFns ...func(*dynamodb.Options)) (*dynamodb.BatchGetItemOutput, error)
}

// Store is the DynamoDB reward.Store.
type Store struct {
	Client API
	Table  string
}

var _ reward.Store = (*Store)(nil)

// OutboxIndex is the sparse index of unacknowledged deliveries.
const OutboxIndex = "outbox"

func key(pk, sk string) map[string]types.AttributeValue {
	return map[string]types.AttributeValue{"pk": &types.AttributeValueMemberS{Value: pk}, "sk": &types.AttributeValueMemberS{Value: sk}}
}

func build(b expression.Builder) (expression.Expression, error) {
	e, err := b.Build()
	if err != nil {
		return e, fmt.Errorf("build expression: %w", err)
	}
	return e, nil
}

// part is one item of a transaction and how to read its cancellation.
type part struct {
	item  types.TransactWriteItem
	onCCF func(old map[string]types.AttributeValue) error
}

func (s *Store) eventPart(ev reward.EventRecord) (part, error) {
	av, err := attributevalue.MarshalMap(eventOf(ev))
	if err != nil {
		return part{}, fmt.Errorf("marshal event %s: %w", ev.ID, err)
	}
	return part{
		item: types.TransactWriteItem{Put: &types.Put{
			TableName: aws.String(s.Table), Item: av,
			ConditionExpression: aws.String("attribute_not_exists(pk)"),
		}},
		onCCF: func(map[string]types.AttributeValue) error { return reward.ErrDuplicateEvent },
	}, nil
}

func (s *Store) entryParts(entries []reward.Entry) ([]part, error) {
	var parts []part
	for _, e := range entries {
		av, err := attributevalue.MarshalMap(entryOf(e))
		if err != nil {
			return nil, fmt.Errorf("marshal entry %s: %w", e.ID, err)
		}
		parts = append(parts, part{
			item: types.TransactWriteItem{Put: &types.Put{
				TableName: aws.String(s.Table), Item: av,
				ConditionExpression:                 aws.String("attribute_not_exists(pk)"),
				ReturnValuesOnConditionCheckFailure: types.ReturnValuesOnConditionCheckFailureAllOld,
			}},
			onCCF: func(old map[string]types.AttributeValue) error {
				var existing entryItem
				if err := attributevalue.UnmarshalMap(old, &existing); err == nil && !existing.entry().SameContent(e) {
					return fmt.Errorf("entry %s exists with other content (%s %+v, now %s %+v): %w", e.ID, existing.Kind, existing.entry().Deltas, e.Kind, e.Deltas, reward.ErrEntryConflict)
				}
				return fmt.Errorf("entry %s exists while the commission state says it should not: %w", e.ID, reward.ErrEntryConflict)
			},
		})
	}
	return parts, nil
}

// balanceParts adds each account's summed deltas: a transaction may touch an
// item once only.
func (s *Store) balanceParts(entries []reward.Entry) ([]part, error) {
	byAccount := map[reward.Account][]reward.Entry{}
	var order []reward.Account
	for _, e := range entries {
		if _, ok := byAccount[e.Account]; !ok {
			order = append(order, e.Account)
		}
		byAccount[e.Account] = append(byAccount[e.Account], e)
	}
	var parts []part
	for _, a := range order {
		upd, err := balanceUpdate(a, byAccount[a])
		if err != nil {
			return nil, err
		}
		e, err := build(expression.NewBuilder().WithUpdate(upd))
		if err != nil {
			return nil, err
		}
		parts = append(parts, part{item: types.TransactWriteItem{Update: &types.Update{
			TableName: aws.String(s.Table), Key: key(balancePK(a), skBalance),
			UpdateExpression: e.Update(), ExpressionAttributeNames: e.Names(), ExpressionAttributeValues: e.Values(),
		}}})
	}
	return parts, nil
}

// setAccount starts an update that writes an item's type and account.
func setAccount(itemType string, a reward.Account) expression.UpdateBuilder {
	acct := accountOf(a)
	return expression.
		Set(expression.Name("type"), expression.Value(itemType)).
		Set(expression.Name("provider"), expression.Value(acct.Provider)).
		Set(expression.Name("recipient"), expression.Value(acct.Recipient)).
		Set(expression.Name("unit"), expression.Value(acct.Unit)).
		Set(expression.Name("currency"), expression.Value(acct.Currency))
}

func (s *Store) commissionPart(ev reward.EventRecord, c reward.Change) (part, error) {
	a := c.After
	upd := setAccount(typeCommission, a.Account).
		Set(expression.Name("id"), expression.Value(a.ID)).
		Set(expression.Name("amount"), expression.Value(a.Amount)).
		Set(expression.Name("refunded"), expression.Value(a.Refunded)).
		Set(expression.Name("status"), expression.Value(string(a.Status))).
		Set(expression.Name("held_approval"), expression.Value(a.HeldApproval)).
		Set(expression.Name("reduced"), expression.Value(a.Reduced)).
		Set(expression.Name("moves"), expression.Value(a.Moves)).
		Set(expression.Name("updated_at"), expression.Value(a.UpdatedAt.UTC().Format(time.RFC3339Nano))).
		Add(expression.Name("version"), expression.Value(1))
	if a.Undeliveries > 0 {
		upd = undeliveryUpdate(upd, a)
	}
	if c.FulfilmentChanged {
		upd = fulfilmentUpdate(upd, a, c.Before == nil || !reward.SameLane(c.Before.Fulfilment, a.Fulfilment))
	}
	var cond expression.ConditionBuilder
	if b := c.Before; b == nil {
		cond = expression.AttributeNotExists(expression.Name("pk"))
	} else {
		// reward.SameState: the entries were planned for this account.
		acct := accountOf(b.Account)
		moves := expression.Name("moves").Equal(expression.Value(b.Moves))
		if b.Moves == 0 {
			// Commissions stored before moves were counted have none.
			moves = expression.AttributeNotExists(expression.Name("moves")).Or(moves)
		}
		cond = expression.Name("status").Equal(expression.Value(string(b.Status))).
			And(expression.Name("amount").Equal(expression.Value(b.Amount))).
			And(expression.Name("refunded").Equal(expression.Value(b.Refunded))).
			And(expression.Name("held_approval").Equal(expression.Value(b.HeldApproval))).
			And(expression.Name("reduced").Equal(expression.Value(b.Reduced))).
			And(expression.Name("recipient").Equal(expression.Value(acct.Recipient))).
			And(expression.Name("unit").Equal(expression.Value(acct.Unit))).
			And(expression.Name("currency").Equal(expression.Value(acct.Currency))).
			And(moves).
			And(undeliveryIs(*b))
	}
	if b := c.Before; b != nil && c.FulfilmentChanged {
		// reward.FulfilmentHolds: an acknowledgement recorded meanwhile is
		// never overwritten.
		cond = cond.And(fulfilmentIs(b.Fulfilment))
	}
	if ev.ID != "" {
		// The event id lives on the commission it changed, not in an item
		// of its own: one item less in every state-changing transaction.
		upd = upd.Add(expression.Name(attrEvents), expression.Value(&types.AttributeValueMemberSS{Value: []string{ev.ID}}))
		if c.Before != nil {
			cond = cond.And(expression.Not(expression.Contains(expression.Name(attrEvents), ev.ID)))
		}
	}
	e, err := build(expression.NewBuilder().WithUpdate(upd).WithCondition(cond))
	if err != nil {
		return part{}, err
	}
	return part{
		item: types.TransactWriteItem{Update: &types.Update{
			TableName: aws.String(s.Table), Key: key(commissionPK(a.Provider, a.ID), skState),
			UpdateExpression: e.Update(), ConditionExpression: e.Condition(),
			ExpressionAttributeNames: e.Names(), ExpressionAttributeValues: e.Values(),
			ReturnValuesOnConditionCheckFailure: types.ReturnValuesOnConditionCheckFailureAllOld,
		}},
		onCCF: func(old map[string]types.AttributeValue) error {
			if ev.ID != "" && hasEvent(old, ev.ID) {
				return reward.ErrDuplicateEvent
			}
			return mismatch(old)
		},
	}, nil
}

// attrEvents is the commission's set of the event ids applied to it.
const attrEvents = "events"

// hasEvent reports whether a stored commission has applied the event id.
func hasEvent(item map[string]types.AttributeValue, id string) bool {
	set, ok := item[attrEvents].(*types.AttributeValueMemberSS)
	return ok && slices.Contains(set.Value, id)
}

// fulfilmentUpdate writes the fulfilment fields and keeps the sparse outbox
// index in step: only requested and failed deliveries are in it, ordered by
// when they entered it (outbox_at and requested_at are set once, unless
// fresh: the delivery enters a lane it was not in), and failed deliveries
// the platform is to be told of, under their own key (outboxKey).
func fulfilmentUpdate(upd expression.UpdateBuilder, c reward.Commission, fresh bool) expression.UpdateBuilder {
	setOrRemove := func(u expression.UpdateBuilder, name, v string) expression.UpdateBuilder {
		if v == "" {
			return u.Remove(expression.Name(name))
		}
		return u.Set(expression.Name(name), expression.Value(v))
	}
	setOnce := func(u expression.UpdateBuilder, name string, at time.Time) expression.UpdateBuilder {
		if fresh {
			return u.Set(expression.Name(name), expression.Value(at.UTC().Format(time.RFC3339Nano)))
		}
		return u.Set(expression.Name(name), expression.IfNotExists(expression.Name(name), expression.Value(at.UTC().Format(time.RFC3339Nano))))
	}
	upd = setOrRemove(upd, "fulfilment", string(c.Fulfilment))
	upd = setOrRemove(upd, "fulfilment_batch", c.FulfilmentBatch)
	upd = setOrRemove(upd, "fulfilment_error", c.FulfilmentError)
	if !c.RequestedAt.IsZero() {
		upd = setOnce(upd, "requested_at", c.RequestedAt)
	}
	if c.Fulfilment.Outstanding() || c.Fulfilment.Unfulfilling() {
		since := c.RequestedAt
		if since.IsZero() {
			since = c.UpdatedAt
		}
		return setOnce(upd.Set(expression.Name("outbox"), expression.Value(outboxKey(c.Provider, c.Fulfilment))), "outbox_at", since)
	}
	return upd.Remove(expression.Name("outbox")).Remove(expression.Name("outbox_at"))
}

// fulfilmentIs is the condition that the stored fulfilment is f.
func fulfilmentIs(f reward.Fulfilment) expression.ConditionBuilder {
	if f == reward.NotRequested {
		return expression.AttributeNotExists(expression.Name("fulfilment"))
	}
	return expression.Name("fulfilment").Equal(expression.Value(string(f)))
}

func mismatch(old map[string]types.AttributeValue) error {
	if len(old) == 0 {
		return &reward.Mismatch{}
	}
	var item commissionItem
	if err := attributevalue.UnmarshalMap(old, &item); err != nil {
		return fmt.Errorf("decode stored commission: %w", err)
	}
	c, err := item.commission()
	if err != nil {
		return err
	}
	return &reward.Mismatch{Current: &c}
}

// transact writes the parts in one transaction and translates a
// cancellation: the first failed condition in part order decides.
func (s *Store) transact(ctx context.Context, what string, parts []part) error {
	items := make([]types.TransactWriteItem, len(parts))
	for i, p := range parts {
		items[i] = p.item
	}
	_, err := s.Client.TransactWriteItems(ctx, &dynamodb.TransactWriteItemsInput{TransactItems: items})
	if err == nil {
		return nil
	}
	var tce *types.TransactionCanceledException
	if !errors.As(err, &tce) {
		return fmt.Errorf("%s: %w", what, err)
	}
	conflict := false
	for i, r := range tce.CancellationReasons {
		if i >= len(parts) {
			break
		}
		switch aws.ToString(r.Code) {
		case "ConditionalCheckFailed":
			if parts[i].onCCF != nil {
				return parts[i].onCCF(r.Item)
			}
		case "TransactionConflict":
			conflict = true
		}
	}
	if conflict {
		return fmt.Errorf("%s: %w", what, reward.ErrConflict)
	}
	return fmt.Errorf("%s: %w", what, err)
}

// write adds the entries and their balance deltas to parts and runs the
// transaction.
func (s *Store) write(ctx context.Context, what string, parts []part, entries []reward.Entry) error {
	ep, err := s.entryParts(entries)
	if err != nil {
		return err
	}
	bp, err := s.balanceParts(entries)
	if err != nil {
		return err
	}
	parts = append(append(parts, ep...), bp...)
	return s.transact(ctx, what, parts)
}

// eventParts is the event record's part of a write: none for a change
// without an event (the reconciler's).
func (s *Store) eventParts(ev reward.EventRecord) ([]part, error) {
	if ev.ID == "" {
		return nil, nil
	}
	p, err := s.eventPart(ev)
	if err != nil {
		return nil, err
	}
	return []part{p}, nil
}

// Apply implements reward.Store: the event id is added to the commission's
// set, whose condition refuses it a second time (an id RecordEvent kept
// there too). A state change is one transaction of the commission, its
// entries and the balance: no item of the event's own, not even a check;
// a change that depends on its recipient's hold (AgentRef's postings)
// checks the hold item as well.
func (s *Store) Apply(ctx context.Context, ev reward.EventRecord, c reward.Change) error {
	cp, err := s.commissionPart(ev, c)
	if err != nil {
		return err
	}
	parts := []part{cp}
	if c.Hold != nil {
		parts = append(parts, s.holdPart(*c.Hold))
	}
	what := fmt.Sprintf("apply %s/%s", c.After.Provider, c.After.ID)
	if c.Covered {
		return s.writeCovered(ctx, what, parts, c.Entries)
	}
	return s.write(ctx, what, parts, c.Entries)
}

// holdPart is the condition that a recipient's hold is still h.Held (no
// hold item: not held).
func (s *Store) holdPart(h reward.HoldAssumption) part {
	cond := "held = :held"
	if !h.Held {
		cond = "attribute_not_exists(pk) OR held = :held"
	}
	return part{
		item: types.TransactWriteItem{ConditionCheck: &types.ConditionCheck{
			TableName: aws.String(s.Table), Key: key(holdPK(h.Provider, h.Recipient), skHold),
			ConditionExpression:       aws.String(cond),
			ExpressionAttributeValues: map[string]types.AttributeValue{":held": &types.AttributeValueMemberBOOL{Value: h.Held}},
		}},
		onCCF: func(map[string]types.AttributeValue) error { return reward.ErrHoldChanged },
	}
}

// ApplyPayout implements reward.Store.
func (s *Store) ApplyPayout(ctx context.Context, ev reward.EventRecord, c reward.PayoutChange) error {
	parts, err := s.eventParts(ev)
	if err != nil {
		return err
	}
	a := c.After
	upd := setAccount(typePayout, a.Account).
		Set(expression.Name("id"), expression.Value(a.ID)).
		Set(expression.Name("amount"), expression.Value(a.Amount)).
		Set(expression.Name("status"), expression.Value(string(a.Status))).
		Set(expression.Name("attempts"), expression.Value(a.Attempts)).
		Set(expression.Name("updated_at"), expression.Value(a.UpdatedAt.UTC().Format(time.RFC3339Nano))).
		Add(expression.Name("version"), expression.Value(1))
	if at := payoutStatusAt(a.StatusAt); at != "" {
		upd = upd.Set(expression.Name("status_at"), expression.Value(at))
	}
	cond := expression.AttributeNotExists(expression.Name("pk"))
	if b := c.Before; b != nil {
		statusAt := expression.AttributeNotExists(expression.Name("status_at"))
		if at := payoutStatusAt(b.StatusAt); at != "" {
			statusAt = expression.Name("status_at").Equal(expression.Value(at))
		}
		cond = expression.Name("status").Equal(expression.Value(string(b.Status))).
			And(expression.Name("attempts").Equal(expression.Value(b.Attempts)), statusAt)
	}
	e, err := build(expression.NewBuilder().WithUpdate(upd).WithCondition(cond))
	if err != nil {
		return err
	}
	parts = append(parts, part{
		item: types.TransactWriteItem{Update: &types.Update{
			TableName: aws.String(s.Table), Key: key(payoutPK(a.Provider, a.ID), skState),
			UpdateExpression: e.Update(), ConditionExpression: e.Condition(),
			ExpressionAttributeNames: e.Names(), ExpressionAttributeValues: e.Values(),
			ReturnValuesOnConditionCheckFailure: types.ReturnValuesOnConditionCheckFailureAllOld,
		}},
		onCCF: func(old map[string]types.AttributeValue) error {
			if len(old) == 0 {
				return &reward.PayoutMismatch{}
			}
			var item payoutItem
			if err := attributevalue.UnmarshalMap(old, &item); err != nil {
				return fmt.Errorf("decode stored payout: %w", err)
			}
			p := item.payout()
			return &reward.PayoutMismatch{Current: &p}
		},
	})
	return s.write(ctx, fmt.Sprintf("apply payout %s/%s", a.Provider, a.ID), parts, c.Entries)
}

// RecordEvent implements reward.Store: on the commission when it exists
// (one UpdateItem), else a record of its own (one PutItem).
func (s *Store) RecordEvent(ctx context.Context, ev reward.EventRecord) error {
	if ev.CommissionID != "" {
		err := s.keepOnCommission(ctx, ev)
		if !errors.Is(err, errNoCommission) {
			return err
		}
	}
	p, err := s.eventPart(ev)
	if err != nil {
		return err
	}
	_, err = s.Client.PutItem(ctx, &dynamodb.PutItemInput{TableName: aws.String(s.Table), Item: p.item.Put.Item, ConditionExpression: p.item.Put.ConditionExpression})
	var ccf *types.ConditionalCheckFailedException
	if errors.As(err, &ccf) {
		return reward.ErrDuplicateEvent
	}
	if err != nil {
		return fmt.Errorf("record event %s/%s: %w", ev.Provider, ev.ID, err)
	}
	return nil
}

// errNoCommission: the commission an event record names does not exist.
var errNoCommission = errors.New("dynamo: no such commission")

// keepOnCommission adds ev.ID to the set of its commission's event ids,
// where Apply's condition finds it. Nothing else of the commission changes
// (not its version: this is no state change).
func (s *Store) keepOnCommission(ctx context.Context, ev reward.EventRecord) error {
	e, err := build(expression.NewBuilder().
		WithUpdate(expression.Add(expression.Name(attrEvents), expression.Value(&types.AttributeValueMemberSS{Value: []string{ev.ID}}))).
		WithCondition(expression.AttributeExists(expression.Name("pk")).And(expression.Not(expression.Contains(expression.Name(attrEvents), ev.ID)))))
	if err != nil {
		return err
	}
	err = s.updateCommission(ctx, ev.Provider, ev.CommissionID, e)
	var ccf *types.ConditionalCheckFailedException
	var busy *types.TransactionConflictException
	switch {
	case errors.As(err, &ccf) && len(ccf.Item) == 0:
		return errNoCommission
	case errors.As(err, &ccf):
		return reward.ErrDuplicateEvent
	case errors.As(err, &busy):
		// A transaction on the commission is in flight (the SDK does not
		// retry this): the caller plans again from what it writes.
		return fmt.Errorf("record event %s/%s on commission %s: %w", ev.Provider, ev.ID, ev.CommissionID, reward.ErrConflict)
	case err != nil:
		return fmt.Errorf("record event %s/%s on commission %s: %w", ev.Provider, ev.ID, ev.CommissionID, err)
	}
	return nil
}

// SetHold implements reward.Store: the event record, the hold (only if
// reward.Hold.Supersedes the stored one) and its listing item, in one
// transaction.
func (s *Store) SetHold(ctx context.Context, ev reward.EventRecord, h reward.Hold) error {
	hi := holdItem{
		PK: holdPK(h.Provider, h.Recipient), SK: skHold, Type: typeHold, Provider: string(h.Provider), Recipient: string(h.Recipient),
		Held: h.Held, EventID: ev.ID, AsOf: h.At.UnixNano(),
	}
	item, err := attributevalue.MarshalMap(hi)
	if err != nil {
		return fmt.Errorf("marshal hold: %w", err)
	}
	hi.PK, hi.SK, hi.Type = holdsPK(h.Provider), string(h.Recipient), typeHoldIndex
	index, err := attributevalue.MarshalMap(hi)
	if err != nil {
		return fmt.Errorf("marshal hold: %w", err)
	}
	e, err := build(expression.NewBuilder().WithCondition(expression.AttributeNotExists(expression.Name("pk")).
		Or(expression.AttributeNotExists(expression.Name("as_of"))).
		Or(expression.Name("as_of").LessThan(expression.Value(hi.AsOf)))))
	if err != nil {
		return err
	}
	parts, err := s.eventParts(ev)
	if err != nil {
		return err
	}
	parts = append(parts,
		part{
			item: types.TransactWriteItem{Put: &types.Put{
				TableName: aws.String(s.Table), Item: item, ConditionExpression: e.Condition(),
				ExpressionAttributeNames: e.Names(), ExpressionAttributeValues: e.Values(),
			}},
			onCCF: func(map[string]types.AttributeValue) error {
				return fmt.Errorf("hold %s as of %s: %w", h.Recipient, h.At.UTC().Format(time.RFC3339Nano), reward.ErrOutdated)
			},
		},
		part{item: types.TransactWriteItem{Put: &types.Put{TableName: aws.String(s.Table), Item: index}}},
	)
	return s.transact(ctx, fmt.Sprintf("set hold %s", h.Recipient), parts)
}

// Holds implements reward.Store: one Query of the provider's hold listing.
func (s *Store) Holds(ctx context.Context, p reward.Provider) ([]reward.Hold, error) {
	var out []reward.Hold
	err := s.partition(ctx, holdsPK(p), string(p)+" holds", func(av map[string]types.AttributeValue) error {
		var item holdItem
		if err := attributevalue.UnmarshalMap(av, &item); err != nil {
			return fmt.Errorf("decode hold: %w", err)
		}
		out = append(out, item.hold())
		return nil
	})
	return out, err
}

// partition reads every item of partition pk, consistently and page by
// page, and passes each to fn; what names the partition in errors.
func (s *Store) partition(ctx context.Context, pk, what string, fn func(map[string]types.AttributeValue) error) error {
	e, err := build(expression.NewBuilder().WithKeyCondition(expression.Key("pk").Equal(expression.Value(pk))))
	if err != nil {
		return err
	}
	pages := dynamodb.NewQueryPaginator(s.Client, &dynamodb.QueryInput{
		TableName: aws.String(s.Table), KeyConditionExpression: e.KeyCondition(),
		ExpressionAttributeNames: e.Names(), ExpressionAttributeValues: e.Values(), ConsistentRead: aws.Bool(true),
	})
	for pages.HasMorePages() {
		page, err := pages.NextPage(ctx)
		if err != nil {
			return fmt.Errorf("read %s: %w", what, err)
		}
		for _, av := range page.Items {
			if err := fn(av); err != nil {
				return err
			}
		}
	}
	return nil
}

// Held implements reward.Store.
func (s *Store) Held(ctx context.Context, p reward.Provider, r reward.Recipient) (bool, error) {
	out, err := s.Client.GetItem(ctx, &dynamodb.GetItemInput{TableName: aws.String(s.Table), Key: key(holdPK(p, r), skHold), ConsistentRead: aws.Bool(true)})
	if err != nil {
		return false, fmt.Errorf("read hold %s: %w", r, err)
	}
	var item struct {
		Held bool `dynamodbav:"held"`
	}
	if err := attributevalue.UnmarshalMap(out.Item, &item); err != nil {
		return false, fmt.Errorf("decode hold %s: %w", r, err)
	}
	return item.Held, nil
}

func (s *Store) get(ctx context.Context, pk string, v any) error {
	out, err := s.Client.GetItem(ctx, &dynamodb.GetItemInput{TableName: aws.String(s.Table), Key: key(pk, skState), ConsistentRead: aws.Bool(true)})
	if err != nil {
		return fmt.Errorf("read %s: %w", pk, err)
	}
	if len(out.Item) == 0 {
		return fmt.Errorf("read %s: %w", pk, reward.ErrNotFound)
	}
	if err := attributevalue.UnmarshalMap(out.Item, v); err != nil {
		return fmt.Errorf("decode %s: %w", pk, err)
	}
	return nil
}

// Commission implements reward.Store.
func (s *Store) Commission(ctx context.Context, p reward.Provider, id string) (reward.Commission, error) {
	var item commissionItem
	if err := s.get(ctx, commissionPK(p, id), &item); err != nil {
		return reward.Commission{}, err
	}
	return item.commission()
}

// Payout implements reward.Store.
func (s *Store) Payout(ctx context.Context, p reward.Provider, id string) (reward.Payout, error) {
	var item payoutItem
	if err := s.get(ctx, payoutPK(p, id), &item); err != nil {
		return reward.Payout{}, err
	}
	return item.payout(), nil
}

// updateCommission runs one conditional UpdateItem of a commission's
// item; a failed condition returns the stored item.
func (s *Store) updateCommission(ctx context.Context, p reward.Provider, id string, e expression.Expression) error {
	_, err := s.Client.UpdateItem(ctx, &dynamodb.UpdateItemInput{
		TableName: aws.String(s.Table), Key: key(commissionPK(p, id), skState),
		UpdateExpression: e.Update(), ConditionExpression: e.Condition(),
		ExpressionAttributeNames: e.Names(), ExpressionAttributeValues: e.Values(),
		ReturnValuesOnConditionCheckFailure: types.ReturnValuesOnConditionCheckFailureAllOld,
	})
	return err
}

// SetFulfilment implements reward.Store.
func (s *Store) SetFulfilment(ctx context.Context, c reward.Commission, from reward.Fulfilment) error {
	upd := fulfilmentUpdate(expression.
		Set(expression.Name("updated_at"), expression.Value(c.UpdatedAt.UTC().Format(time.RFC3339Nano))).
		Add(expression.Name("version"), expression.Value(1)), c, false)
	cond := expression.Name("fulfilment").Equal(expression.Value(string(from)))
	if from == reward.NotRequested {
		cond = expression.AttributeExists(expression.Name("pk")).And(expression.AttributeNotExists(expression.Name("fulfilment")))
	}
	// An answer about one failed delivery never settles a later one.
	cond = cond.And(undeliveryIs(c))
	e, err := build(expression.NewBuilder().WithUpdate(upd).WithCondition(cond))
	if err != nil {
		return err
	}
	err = s.updateCommission(ctx, c.Provider, c.ID, e)
	var ccf *types.ConditionalCheckFailedException
	if errors.As(err, &ccf) {
		return mismatch(ccf.Item)
	}
	if err != nil {
		return fmt.Errorf("set fulfilment %s/%s: %w", c.Provider, c.ID, err)
	}
	return nil
}

type batchItem struct {
	PK            string   `dynamodbav:"pk"`
	SK            string   `dynamodbav:"sk"`
	Type          string   `dynamodbav:"type"`
	Provider      string   `dynamodbav:"provider"`
	ID            string   `dynamodbav:"id"`
	CommissionIDs []string `dynamodbav:"commission_ids"`
	At            string   `dynamodbav:"at"`
}

// RecordBatch implements reward.Store.
func (s *Store) RecordBatch(ctx context.Context, b reward.Batch) error {
	item, err := attributevalue.MarshalMap(batchItem{
		PK: "BATCH#" + string(b.Provider), SK: b.At.UTC().Format(time.RFC3339Nano) + "#" + b.ID, Type: "batch",
		Provider: string(b.Provider), ID: b.ID, CommissionIDs: b.CommissionIDs, At: b.At.UTC().Format(time.RFC3339Nano),
	})
	if err != nil {
		return fmt.Errorf("marshal batch %s: %w", b.ID, err)
	}
	if _, err := s.Client.PutItem(ctx, &dynamodb.PutItemInput{TableName: aws.String(s.Table), Item: item}); err != nil {
		return fmt.Errorf("record batch %s: %w", b.ID, err)
	}
	return nil
}

// Batches implements reward.Store.
func (s *Store) Batches(ctx context.Context, p reward.Provider) ([]reward.Batch, error) {
	var out []reward.Batch
	err := s.partition(ctx, "BATCH#"+string(p), string(p)+" batches", func(av map[string]types.AttributeValue) error {
		var item batchItem
		if err := attributevalue.UnmarshalMap(av, &item); err != nil {
			return fmt.Errorf("decode batch: %w", err)
		}
		at, _ := time.Parse(time.RFC3339Nano, item.At)
		out = append(out, reward.Batch{Provider: p, ID: item.ID, CommissionIDs: item.CommissionIDs, At: at})
		return nil
	})
	return out, err
}

// DeleteBatch implements reward.Store.
func (s *Store) DeleteBatch(ctx context.Context, b reward.Batch) error {
	_, err := s.Client.DeleteItem(ctx, &dynamodb.DeleteItemInput{TableName: aws.String(s.Table), Key: key("BATCH#"+string(b.Provider), b.At.UTC().Format(time.RFC3339Nano)+"#"+b.ID)})
	if err != nil {
		return fmt.Errorf("delete batch %s: %w", b.ID, err)
	}
	return nil
}

// Cursor implements reward.Store.
func (s *Store) Cursor(ctx context.Context, name string) (string, error) {
	out, err := s.Client.GetItem(ctx, &dynamodb.GetItemInput{TableName: aws.String(s.Table), Key: key("CURSOR#"+name, "CURSOR"), ConsistentRead: aws.Bool(true)})
	if err != nil {
		return "", fmt.Errorf("read cursor %s: %w", name, err)
	}
	var item struct {
		Value string `dynamodbav:"value"`
	}
	if err := attributevalue.UnmarshalMap(out.Item, &item); err != nil {
		return "", fmt.Errorf("decode cursor %s: %w", name, err)
	}
	return item.Value, nil
}

// SetCursor implements reward.Store.
func (s *Store) SetCursor(ctx context.Context, name, value string) error {
	item, err := attributevalue.MarshalMap(struct {
		PK    string `dynamodbav:"pk"`
		SK    string `dynamodbav:"sk"`
		Type  string `dynamodbav:"type"`
		Value string `dynamodbav:"value"`
	}{"CURSOR#" + name, "CURSOR", "cursor", value})
	if err != nil {
		return fmt.Errorf("marshal cursor %s: %w", name, err)
	}
	if _, err := s.Client.PutItem(ctx, &dynamodb.PutItemInput{TableName: aws.String(s.Table), Item: item}); err != nil {
		return fmt.Errorf("store cursor %s: %w", name, err)
	}
	return nil
}

type runItem struct {
	PK       string         `dynamodbav:"pk"`
	SK       string         `dynamodbav:"sk"`
	Type     string         `dynamodbav:"type"`
	ID       string         `dynamodbav:"id"`
	Started  string         `dynamodbav:"started"`
	Finished string         `dynamodbav:"finished"`
	Complete bool           `dynamodbav:"complete"`
	Counts   map[string]int `dynamodbav:"counts"`
	Drift    []reward.Drift `dynamodbav:"drift"`
	Errors   []string       `dynamodbav:"errors"`
	Expires  int64          `dynamodbav:"expires_at"`
}

// RecordRun implements reward.Store. Summaries expire after 90 days.
func (s *Store) RecordRun(ctx context.Context, r reward.Run) error {
	item, err := attributevalue.MarshalMap(runItem{
		PK: "RUN", SK: r.Started.UTC().Format(time.RFC3339Nano) + "#" + r.ID, Type: "run", ID: r.ID,
		Started: r.Started.UTC().Format(time.RFC3339Nano), Finished: r.Finished.UTC().Format(time.RFC3339Nano),
		Complete: r.Complete, Counts: r.Counts, Drift: r.Drift, Errors: r.Errors, Expires: r.Started.Add(90 * 24 * time.Hour).Unix(),
	})
	if err != nil {
		return fmt.Errorf("marshal run %s: %w", r.ID, err)
	}
	if _, err := s.Client.PutItem(ctx, &dynamodb.PutItemInput{TableName: aws.String(s.Table), Item: item}); err != nil {
		return fmt.Errorf("record run %s: %w", r.ID, err)
	}
	return nil
}

// Runs implements reward.Store.
func (s *Store) Runs(ctx context.Context, limit int) ([]reward.Run, error) {
	e, err := build(expression.NewBuilder().WithKeyCondition(expression.Key("pk").Equal(expression.Value("RUN"))))
	if err != nil {
		return nil, err
	}
	out, err := s.Client.Query(ctx, &dynamodb.QueryInput{
		TableName: aws.String(s.Table), KeyConditionExpression: e.KeyCondition(),
		ExpressionAttributeNames: e.Names(), ExpressionAttributeValues: e.Values(),
		ScanIndexForward: aws.Bool(false), Limit: aws.Int32(int32(limit)),
	})
	if err != nil {
		return nil, fmt.Errorf("read runs: %w", err)
	}
	var runs []reward.Run
	for _, av := range out.Items {
		var item runItem
		if err := attributevalue.UnmarshalMap(av, &item); err != nil {
			return nil, fmt.Errorf("decode run: %w", err)
		}
		started, _ := time.Parse(time.RFC3339Nano, item.Started)
		finished, _ := time.Parse(time.RFC3339Nano, item.Finished)
		runs = append(runs, reward.Run{ID: item.ID, Started: started, Finished: finished, Complete: item.Complete, Counts: item.Counts, Drift: item.Drift, Errors: item.Errors})
	}
	return runs, nil
}

// History implements reward.Store: one Query of the commission's partition.
func (s *Store) History(ctx context.Context, p reward.Provider, id string) (reward.Commission, []reward.Entry, error) {
	var l reward.Ledger
	err := s.partition(ctx, commissionPK(p, id), "history of "+string(p)+"/"+id, func(av map[string]types.AttributeValue) error {
		return addItem(&l, av)
	})
	if err != nil {
		return reward.Commission{}, nil, err
	}
	if len(l.Commissions) == 0 {
		return reward.Commission{}, nil, fmt.Errorf("commission %s/%s: %w", p, id, reward.ErrNotFound)
	}
	c, entries := &l.Commissions[0], l.Entries
	sort.Slice(entries, func(i, j int) bool {
		return entries[i].At.Before(entries[j].At) || entries[i].At.Equal(entries[j].At) && entries[i].ID < entries[j].ID
	})
	return *c, entries, nil
}

// Outbox implements reward.Store.
func (s *Store) Outbox(ctx context.Context, p reward.Provider, limit int) ([]reward.Commission, error) {
	return s.outbox(ctx, p, outboxKey(p, reward.Requested), limit)
}

// outbox reads one lane of the outbox index.
func (s *Store) outbox(ctx context.Context, p reward.Provider, lane string, limit int) ([]reward.Commission, error) {
	e, err := build(expression.NewBuilder().WithKeyCondition(expression.Key("outbox").Equal(expression.Value(lane))))
	if err != nil {
		return nil, err
	}
	var out []reward.Commission
	var start map[string]types.AttributeValue
	for len(out) < limit {
		res, err := s.Client.Query(ctx, &dynamodb.QueryInput{
			TableName: aws.String(s.Table), IndexName: aws.String(OutboxIndex),
			KeyConditionExpression: e.KeyCondition(), ExpressionAttributeNames: e.Names(), ExpressionAttributeValues: e.Values(),
			Limit: aws.Int32(int32(limit - len(out))), ExclusiveStartKey: start,
		})
		if err != nil {
			return nil, fmt.Errorf("read %s outbox: %w", p, err)
		}
		for _, av := range res.Items {
			var item commissionItem
			if err := attributevalue.UnmarshalMap(av, &item); err != nil {
				return nil, fmt.Errorf("decode outbox item: %w", err)
			}
			c, err := item.commission()
			if err != nil {
				return nil, err
			}
			out = append(out, c)
		}
		if start = res.LastEvaluatedKey; len(start) == 0 {
			break
		}
	}
	return out, nil
}

// Ledger implements reward.Store with a full scan: for the audit and the
// CLI, not for a request path.
func (s *Store) Ledger(ctx context.Context) (reward.Ledger, error) {
	var l reward.Ledger
	p := dynamodb.NewScanPaginator(s.Client, &dynamodb.ScanInput{TableName: aws.String(s.Table), ConsistentRead: aws.Bool(true)})
	for p.HasMorePages() {
		page, err := p.NextPage(ctx)
		if err != nil {
			return reward.Ledger{}, fmt.Errorf("scan ledger: %w", err)
		}
		for _, av := range page.Items {
			if err := addItem(&l, av); err != nil {
				return reward.Ledger{}, err
			}
		}
	}
	sort.Slice(l.Entries, func(i, j int) bool { return l.Entries[i].ID < l.Entries[j].ID })
	sort.Slice(l.Balances, func(i, j int) bool { return l.Balances[i].Account.String() < l.Balances[j].Account.String() })
	sort.Slice(l.Commissions, func(i, j int) bool {
		return commissionPK(l.Commissions[i].Provider, l.Commissions[i].ID) < commissionPK(l.Commissions[j].Provider, l.Commissions[j].ID)
	})
	return l, nil
}
