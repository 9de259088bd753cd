package postgres

// STUB: errTODO is what the other slices' stubs return. Delete this file
// once no stub_*.go is left.

import "errors"

var errTODO = errors.New("postgres: not implemented yet")
