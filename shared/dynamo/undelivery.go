package dynamo

import (
	"context"
	"fmt"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/feature/dynamodb/attributevalue"
	"github.com/aws/aws-sdk-go-v2/feature/dynamodb/expression"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"

	"github.com/rewardrelay/rewardrelay/shared/reward"
)

// outboxKey is a delivery's key in the outbox index: the provider for an
// acknowledgement to send, the provider and "#unfulfil" for a failed
// delivery the platform is to be told of, so that each lane is one Query.
func outboxKey(p reward.Provider, f reward.Fulfilment) string {
	if f.Unfulfilling() {
		return string(p) + "#unfulfil"
	}
	return string(p)
}

// UnfulfilOutbox implements reward.Store.
func (s *Store) UnfulfilOutbox(ctx context.Context, p reward.Provider, limit int) ([]reward.Commission, error) {
	return s.outbox(ctx, p, outboxKey(p, reward.UnfulfilRequested), limit)
}

// undeliveryUpdate writes a commission's failed deliveries: only a
// commission that had one has the attributes.
func undeliveryUpdate(upd expression.UpdateBuilder, c reward.Commission) expression.UpdateBuilder {
	upd = upd.Set(expression.Name("undelivered"), expression.Value(c.Undelivered)).
		Set(expression.Name("undeliveries"), expression.Value(c.Undeliveries))
	if c.UndeliveredReason == "" {
		return upd.Remove(expression.Name("undelivered_reason"))
	}
	return upd.Set(expression.Name("undelivered_reason"), expression.Value(c.UndeliveredReason))
}

// undeliveryIs is the part of reward.SameState about failed deliveries; a
// commission that never had one has neither attribute.
func undeliveryIs(c reward.Commission) expression.ConditionBuilder {
	if c.Undeliveries == 0 {
		return expression.AttributeNotExists(expression.Name("undeliveries"))
	}
	return expression.Name("undeliveries").Equal(expression.Value(c.Undeliveries)).
		And(expression.Name("undelivered").Equal(expression.Value(c.Undelivered)))
}

// writeCovered is write for a reward.Change marked Covered: each balance
// the entries take available from is conditional on covering it, and a
// balance that does not is *reward.Insufficient.
func (s *Store) writeCovered(ctx context.Context, what string, parts []part, entries []reward.Entry) error {
	ep, err := s.entryParts(entries)
	if err != nil {
		return err
	}
	parts = append(parts, ep...)
	byAccount := map[reward.Account][]reward.Entry{}
	var order []reward.Account
	for _, e := range entries {
		if _, ok := byAccount[e.Account]; !ok {
			order = append(order, e.Account)
		}
		byAccount[e.Account] = append(byAccount[e.Account], e)
	}
	for _, a := range order {
		var d reward.Deltas
		for _, e := range byAccount[a] {
			d = d.Add(e.Deltas)
		}
		upd, err := balanceUpdate(a, byAccount[a])
		if err != nil {
			return err
		}
		b := expression.NewBuilder().WithUpdate(upd)
		if d.Available < 0 {
			b = b.WithCondition(expression.Name("available").GreaterThanEqual(expression.Value(-d.Available)))
		}
		e, err := build(b)
		if err != nil {
			return err
		}
		parts = append(parts, part{
			item: types.TransactWriteItem{Update: &types.Update{
				TableName: aws.String(s.Table), Key: key(balancePK(a), skBalance),
				UpdateExpression: e.Update(), ConditionExpression: e.Condition(),
				ExpressionAttributeNames: e.Names(), ExpressionAttributeValues: e.Values(),
				ReturnValuesOnConditionCheckFailure: types.ReturnValuesOnConditionCheckFailureAllOld,
			}},
			onCCF: func(old map[string]types.AttributeValue) error {
				var bal balanceItem
				if err := attributevalue.UnmarshalMap(old, &bal); err != nil {
					return fmt.Errorf("decode balance: %w", err)
				}
				return &reward.Insufficient{Available: bal.Available}
			},
		})
	}
	return s.transact(ctx, what, parts)
}
