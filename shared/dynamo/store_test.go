package dynamo

import (
	"testing"

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
