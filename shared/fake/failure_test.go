package fake

import (
	"testing"

	"github.com/rewardrelay/rewardrelay/shared/reward"
)

func TestFailureLogContract(t *testing.T) {
	RunFailureLogContract(t, func(*testing.T) reward.FailureLog { return NewStore() })
}
