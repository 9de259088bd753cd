// Package childtest runs a test binary again as a child process, for the
// tests that prove crash safety and multi-process behaviour: a child is
// killed with SIGKILL mid-work, or several processes share one database
// file.
//
// A package's TestMain hands its child roles to Main. A test starts a
// child in one of those roles with Start, which re-executes os.Args[0]
// with the role named in the environment: Main then runs the role instead
// of the tests and exits with its status.
//
// Parent and child talk in lines. The parent writes to the child's stdin
// (Child.Say) and reads its stdout (Child.Line, Child.Expect); the child
// uses ReadLine, Say and AwaitClose. Closing the child's stdin
// (Child.CloseStdin, Child.Wait) tells it to finish; as the parent holds
// the only write end, the child's stdin also ends when the parent dies, so
// no child outlives a crashed test run. The child's stderr is kept and
// shown when the test fails. A role that wants testify assertions runs
// them through Check.
package childtest
