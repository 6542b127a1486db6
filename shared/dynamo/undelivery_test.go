package dynamo

import (
	"testing"

	"github.com/rewardrelay/rewardrelay/shared/awstest"
	"github.com/rewardrelay/rewardrelay/shared/fake"
)

func TestUndeliveryContract(t *testing.T) {
	fake.RunUndeliveryContract(t, func(t *testing.T) fake.LedgerStore {
		client, table := awstest.Table(t)
		return &Store{Client: client, Table: table}
	})
}
