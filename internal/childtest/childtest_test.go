package childtest_test

import (
	"errors"
	"fmt"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/spooljobs/spool/internal/childtest"
)

func TestMain(m *testing.M) {
	childtest.Main(m, map[string]func() error{
		"echo":  echo,
		"fail":  func() error { return errors.New("told to fail") },
		"check": func() error { return childtest.Check(func(t *childtest.T) { require.Equal(t, 1, 2, "one is two") }) },
		"hang":  func() error { childtest.Say("ready"); return childtest.AwaitClose() },
	})
}

// echo says "ready", then repeats every line it reads until stdin ends.
func echo() error {
	childtest.Say("ready")
	for {
		line, err := childtest.ReadLine()
		if err != nil {
			childtest.Say("bye")
			return nil
		}
		childtest.Say("echo " + line)
	}
}

func TestTalkInLines(t *testing.T) {
	t.Parallel()
	c := childtest.Start(t, "echo")
	c.Expect("ready", time.Minute)
	for i := range 3 {
		c.Say(fmt.Sprint(i))
	}
	for i := range 3 {
		require.Equal(t, fmt.Sprint("echo ", i), c.Line(time.Minute))
	}
	c.CloseStdin()
	c.Expect("bye", time.Minute)
	c.Wait(time.Minute)
	require.Positive(t, c.Pid())
}

func TestKillEndsTheChild(t *testing.T) {
	t.Parallel()
	c := childtest.Start(t, "hang")
	c.Expect("ready", time.Minute)
	c.Kill()
	childtest.WaitUntil(t, time.Minute, "nothing", func() bool { return true }, c)
}

func TestRoleErrorsGoToStderr(t *testing.T) {
	t.Parallel()
	for role, want := range map[string]string{
		"fail":    "told to fail",
		"check":   "one is two",
		"unknown": `unknown child role "unknown"`,
	} {
		out, err := childtest.Command(role).CombinedOutput()
		require.Error(t, err, role)
		require.Contains(t, string(out), "child "+role, role)
		require.Contains(t, string(out), want, role)
	}
}
