package dynamo

import (
	"context"
	"errors"
	"fmt"
	"strconv"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/feature/dynamodb/expression"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"

	"github.com/rewardrelay/rewardrelay/shared/httpretry"
)

// Budget rations a platform's requests among every function that calls it,
// with one counter item per time window: Take is one conditional UpdateItem
// (ADD 1 while under the window's limit). With windows of Window and at most
// Limit requests each, any 60 seconds hold at most Limit x (60s/Window + 1)
// requests: 30 per 5 s gives 360 a minute sustained and never more than 390
// in any minute, under FirstPromoter's 400.
type Budget struct {
	Client API
	Table  string
	// Name keys the counters: one budget per platform account.
	Name   string
	Window time.Duration
	Limit  int
	Now    func() time.Time
	// WaitUntil waits for the clock to reach t, or fails with the context.
	WaitUntil func(ctx context.Context, t time.Time) error
}

// FirstPromoterBudget is the budget for one FirstPromoter account.
func FirstPromoterBudget(client API, table, accountID string) *Budget {
	return &Budget{Client: client, Table: table, Name: "firstpromoter#" + accountID, Window: 5 * time.Second, Limit: 30}
}

// ErrBudgetExhausted means the context ended while waiting for a window.
var ErrBudgetExhausted = errors.New("dynamo: platform request budget exhausted until the deadline")

// Take waits until the current window has room and counts one request.
func (b *Budget) Take(ctx context.Context) error {
	now, wait := b.Now, b.WaitUntil
	if now == nil {
		now = time.Now
	}
	if wait == nil {
		wait = func(ctx context.Context, t time.Time) error { return httpretry.Sleep(ctx, time.Until(t)) }
	}
	for {
		t := now()
		start := t.Truncate(b.Window)
		e, err := build(expression.NewBuilder().
			WithUpdate(expression.Add(expression.Name("n"), expression.Value(1)).
				Set(expression.Name("type"), expression.Value("budget")).
				Set(expression.Name("expires_at"), expression.Value(start.Add(time.Hour).Unix()))).
			WithCondition(expression.AttributeNotExists(expression.Name("n")).Or(expression.Name("n").LessThan(expression.Value(b.Limit)))))
		if err != nil {
			return err
		}
		_, err = b.Client.UpdateItem(ctx, &dynamodb.UpdateItemInput{
			TableName:        aws.String(b.Table),
			Key:              key("BUDGET#"+b.Name, strconv.FormatInt(start.UnixMilli(), 10)),
			UpdateExpression: e.Update(), ConditionExpression: e.Condition(),
			ExpressionAttributeNames: e.Names(), ExpressionAttributeValues: e.Values(),
		})
		var ccf *types.ConditionalCheckFailedException
		if err == nil {
			return nil
		}
		if !errors.As(err, &ccf) {
			return fmt.Errorf("take from budget %s: %w", b.Name, err)
		}
		next := start.Add(b.Window)
		if deadline, ok := ctx.Deadline(); ok && time.Until(deadline) < next.Sub(t) {
			return ErrBudgetExhausted
		}
		if err := wait(ctx, next); err != nil {
			return fmt.Errorf("%w: %w", ErrBudgetExhausted, err)
		}
	}
}
