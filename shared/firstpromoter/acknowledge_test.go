package firstpromoter

import (
	"strings"
	"testing"
	"unicode/utf8"
)

func TestRefusalReasonsAreBounded(t *testing.T) {
	long := strings.Repeat("é", maxReason)
	if got := bounded(long); len(got) > maxReason+len("...") || !utf8.ValidString(got) {
		t.Errorf("bounded to %d bytes, valid UTF-8 %v", len(got), utf8.ValidString(got))
	}
	if got := bounded("payout missing"); got != "payout missing" {
		t.Errorf("a short reason became %q", got)
	}
}
