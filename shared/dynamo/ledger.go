package dynamo

import (
	"fmt"

	"github.com/aws/aws-sdk-go-v2/feature/dynamodb/attributevalue"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"

	"github.com/rewardrelay/rewardrelay/shared/reward"
)

func addItem(l *reward.Ledger, av map[string]types.AttributeValue) error {
	t, _ := av["type"].(*types.AttributeValueMemberS)
	if t == nil {
		return nil
	}
	switch t.Value {
	case typeCommission:
		var item commissionItem
		if err := attributevalue.UnmarshalMap(av, &item); err != nil {
			return fmt.Errorf("decode commission: %w", err)
		}
		c, err := item.commission()
		if err != nil {
			return err
		}
		l.Commissions = append(l.Commissions, c)
	case typePayout:
		var item payoutItem
		if err := attributevalue.UnmarshalMap(av, &item); err != nil {
			return fmt.Errorf("decode payout: %w", err)
		}
		l.Payouts = append(l.Payouts, item.payout())
	case typeEntry:
		var item entryItem
		if err := attributevalue.UnmarshalMap(av, &item); err != nil {
			return fmt.Errorf("decode entry: %w", err)
		}
		l.Entries = append(l.Entries, item.entry())
	case typeBalance:
		var item balanceItem
		if err := attributevalue.UnmarshalMap(av, &item); err != nil {
			return fmt.Errorf("decode balance: %w", err)
		}
		l.Balances = append(l.Balances, reward.Balance{Account: item.account(), Deltas: item.deltas()})
	}
	return nil
}
