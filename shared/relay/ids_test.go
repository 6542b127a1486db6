package relay

import (
	"testing"

	"github.com/rewardrelay/rewardrelay/shared/reward"
)

// Conversion ids are the platform's strings: one that reads like another's
// entry id suffix never shares an entry with it.
func TestConversionIDsWithTheEntrySeparatorKeepTheirOwnEntries(t *testing.T) {
	onBothStores(t, func(t *testing.T, h *harness) {
		h.processBatches(t,
			[]Message{h.arEvent(t, "c-created", "conversion.created", conversion("c", "a1", "pending", 1000))},
			// The platform names another affiliate: the pending credit moves (move 1).
			[]Message{h.arEvent(t, "c-moved", "conversion.created", conversion("c", "a2", "pending", 1000))},
			[]Message{h.arEvent(t, "c2-created", "conversion.created", conversion("c#move#1", "a1", "pending", 700))},
		)
		if b := h.balance(t, a1); b != (reward.Deltas{Pending: 700}) {
			t.Errorf("a1: %+v, want c#move#1 pending", b)
		}
		for _, id := range []string{"c", "c#move#1"} {
			c, entries, err := h.store.History(t.Context(), reward.AgentRef, id)
			if err != nil {
				t.Fatal(err)
			}
			if v := reward.AuditCommission(c, entries); len(v) > 0 {
				t.Errorf("history of %s: %v", id, v)
			}
			for _, e := range entries {
				if e.Subject != "commission:"+id {
					t.Errorf("history of %s holds %s of %s", id, e.ID, e.Subject)
				}
			}
		}
	})
}
