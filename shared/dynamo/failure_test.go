package dynamo

import (
	"testing"

	"github.com/rewardrelay/rewardrelay/shared/awstest"
	"github.com/rewardrelay/rewardrelay/shared/fake"
	"github.com/rewardrelay/rewardrelay/shared/reward"
)

func TestFailureLogContract(t *testing.T) {
	fake.RunFailureLogContract(t, func(t *testing.T) reward.FailureLog {
		client, table := awstest.Table(t)
		return &Store{Client: client, Table: table}
	})
}
