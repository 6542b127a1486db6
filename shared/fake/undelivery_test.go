package fake

import "testing"

func TestUndeliveryContract(t *testing.T) {
	RunUndeliveryContract(t, func(*testing.T) LedgerStore { return NewStore() })
}
