package sqlite

// RunFileCheckOnce runs one round of the store's background check of its
// database file (filecheck.go), as the loop does every second.
func RunFileCheckOnce(s *Store) error { return s.runFileCheckOnce() }
