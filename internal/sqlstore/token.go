package sqlstore

import (
	"crypto/rand"
	"encoding/binary"
)

// NewToken returns a random lease token: positive, so never zero (the
// token of no lease). Every lease takes a fresh one, and every later write
// of the job checks it.
func NewToken() int64 {
	var b [8]byte
	for {
		rand.Read(b[:])
		if t := int64(binary.LittleEndian.Uint64(b[:]) >> 1); t != 0 {
			return t
		}
	}
}
