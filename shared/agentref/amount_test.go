package agentref

import (
	"encoding/json"
	"errors"
	"testing"
)

func TestAmountsAreWholeCentsWrittenAnyWay(t *testing.T) {
	for _, tc := range []struct {
		raw  string
		want int64
		ok   bool
	}{
		{`1250`, 1250, true},
		{`1250.0`, 1250, true},
		{`1.25e3`, 1250, true},
		{`0`, 0, true},
		{`12.5`, 0, false},
		{`-3`, 0, false},
		{`"1250"`, 0, false},
		{`null`, 0, false},
		{`1e400`, 0, false},
		{`99999999999999999999`, 0, false},
	} {
		var v struct {
			Amount Amount `json:"amount"`
		}
		if err := json.Unmarshal([]byte(`{"amount":`+tc.raw+`}`), &v); err != nil {
			t.Errorf("%s: decoding failed (%v): a row must never fail its page", tc.raw, err)
			continue
		}
		got, err := v.Amount.Cents()
		if tc.ok && (err != nil || got != tc.want) {
			t.Errorf("%s: %d, %v; want %d", tc.raw, got, err, tc.want)
		}
		if !tc.ok && !errors.Is(err, ErrAmount) {
			t.Errorf("%s: %d, %v; want ErrAmount", tc.raw, got, err)
		}
	}
}
