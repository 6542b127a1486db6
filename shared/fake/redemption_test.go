package fake

import "testing"

func TestRedemptionContract(t *testing.T) {
	RunRedemptionContract(t, func(*testing.T) LedgerStore { return NewStore() })
}
