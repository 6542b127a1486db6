package fake

import (
	"testing"

	"github.com/rewardrelay/rewardrelay/shared/reward"
)

func TestStoreContract(t *testing.T) {
	RunStoreContract(t, func(*testing.T) reward.Store { return NewStore() })
}
