package webhook

import (
	"crypto/hmac"
	"crypto/sha256"
	"hash"
	"sync"
)

// keyedMAC computes HMAC-SHA256 with one key, reusing hash states across
// requests: keying a fresh HMAC allocates and hashes the key pads each time.
type keyedMAC struct {
	pool sync.Pool
}

func newKeyedMAC(key []byte) *keyedMAC {
	k := &keyedMAC{}
	k.pool.New = func() any { return hmac.New(sha256.New, key) }
	return k
}

// sum returns the MAC of the concatenation of parts.
func (k *keyedMAC) sum(parts ...[]byte) [sha256.Size]byte {
	mac := k.pool.Get().(hash.Hash)
	mac.Reset()
	for _, p := range parts {
		mac.Write(p)
	}
	var out [sha256.Size]byte
	mac.Sum(out[:0])
	k.pool.Put(mac)
	return out
}
