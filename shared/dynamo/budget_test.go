package dynamo

import (
	"context"
	"sync"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/feature/dynamodb/attributevalue"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"

	"github.com/rewardrelay/rewardrelay/shared/awstest"
)

// TestBudgetNeverExceedsItsWindow runs concurrent takers on a fake clock:
// every window grants exactly Limit requests, the rest wait for the next.
func TestBudgetNeverExceedsItsWindow(t *testing.T) {
	client, table := awstest.Table(t)
	var mu sync.Mutex
	clock := time.Date(2026, 11, 20, 12, 0, 0, 0, time.UTC)
	b := &Budget{Client: client, Table: table, Name: "test", Window: 5 * time.Second, Limit: 30,
		Now: func() time.Time { mu.Lock(); defer mu.Unlock(); return clock },
		WaitUntil: func(_ context.Context, until time.Time) error {
			mu.Lock()
			defer mu.Unlock()
			if until.After(clock) {
				clock = until
			}
			return nil
		},
	}
	var wg sync.WaitGroup
	for range 4 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for range 20 {
				if err := b.Take(t.Context()); err != nil {
					t.Error(err)
					return
				}
			}
		}()
	}
	wg.Wait()
	// Read the counters DynamoDB kept: the windows' own record of grants.
	out, err := client.Scan(t.Context(), &dynamodb.ScanInput{TableName: aws.String(table)})
	if err != nil {
		t.Fatal(err)
	}
	total, windows := 0, 0
	for _, item := range out.Items {
		var c struct {
			PK string `dynamodbav:"pk"`
			SK string `dynamodbav:"sk"`
			N  int    `dynamodbav:"n"`
		}
		if err := attributevalue.UnmarshalMap(item, &c); err != nil || c.PK != "BUDGET#test" {
			continue
		}
		windows++
		total += c.N
		if c.N > 30 {
			t.Errorf("window %s granted %d requests, limit 30", c.SK, c.N)
		}
	}
	if total != 80 || windows < 3 {
		t.Errorf("granted %d in %d windows, want 80 in at least 3", total, windows)
	}
}

func TestBudgetGivesUpAtTheDeadline(t *testing.T) {
	client, table := awstest.Table(t)
	now := time.Date(2026, 11, 20, 12, 0, 0, 0, time.UTC)
	b := &Budget{Client: client, Table: table, Name: "deadline", Window: time.Minute, Limit: 1, Now: func() time.Time { return now }}
	if err := b.Take(t.Context()); err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(t.Context(), time.Second)
	defer cancel()
	if err := b.Take(ctx); err != ErrBudgetExhausted {
		t.Errorf("Take with no room before the deadline: %v, want ErrBudgetExhausted", err)
	}
}
