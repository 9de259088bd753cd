//go:build linux

package sqlite_test

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"syscall"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/spooljobs/spool/internal/childtest"
	"github.com/spooljobs/spool/queue"
	"github.com/spooljobs/spool/sqlite"
)

// roMountEnv tells TestReadOnlyMount's child process (role "romount"), in a
// mount namespace of its own, which directory to mount read-only where:
// its value is "SRC:MNT".
const roMountEnv = "SPOOL_SQLITE_TEST_RO_MOUNT"

// The role exists only where the test does.
func init() {
	childRoles["romount"] = func() error {
		return childtest.Check(func(t *childtest.T) { readOnlyMountChild(t, os.Getenv(roMountEnv)) })
	}
}

// A database on a read-only mount (a backup mounted read-only) can be
// inspected: SQLite cannot create the -shm file that reading a WAL
// database needs and fails with CANTOPEN, so Open reads the file as
// immutable when there is no -wal. With a -wal it refuses and says why.
//
// The mount is made by a child process in a mount namespace of its own
// (as root, as in CI), or in a user and mount namespace (unprivileged),
// so that nothing outside the test sees it. The test skips, saying why,
// only when the system allows neither.
func TestReadOnlyMount(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	src, mnt := t.TempDir(), t.TempDir()

	// A closed database: everything in the main file.
	path := filepath.Join(src, "backup.db")
	s, err := sqlite.Open(ctx, path, sqlite.Options{})
	require.NoError(t, err)
	_, err = newQueue(t, s).Enqueue(ctx, queue.NewJob{Kind: "report", Payload: []byte("kept")})
	require.NoError(t, err)
	require.NoError(t, s.Close())

	// A copy taken while a store ran: its -wal holds commits.
	live := filepath.Join(src, "live.db")
	s, err = sqlite.Open(ctx, live, sqlite.Options{CheckpointInterval: -1})
	require.NoError(t, err)
	_, err = newQueue(t, s).Enqueue(ctx, queue.NewJob{Kind: "report"})
	require.NoError(t, err)
	for _, suffix := range []string{"", "-wal"} {
		b, err := os.ReadFile(live + suffix)
		require.NoError(t, err)
		require.NoError(t, os.WriteFile(filepath.Join(src, "copy.db"+suffix), b, 0o644))
	}
	require.NoError(t, s.Close())

	cmd := childtest.Command("romount", roMountEnv+"="+src+":"+mnt)
	if os.Geteuid() == 0 {
		cmd.SysProcAttr = &syscall.SysProcAttr{Unshareflags: syscall.CLONE_NEWNS}
	} else {
		cmd.SysProcAttr = &syscall.SysProcAttr{
			Cloneflags:                 syscall.CLONE_NEWUSER | syscall.CLONE_NEWNS,
			UidMappings:                []syscall.SysProcIDMap{{ContainerID: 0, HostID: os.Geteuid(), Size: 1}},
			GidMappings:                []syscall.SysProcIDMap{{ContainerID: 0, HostID: os.Getegid(), Size: 1}},
			GidMappingsEnableSetgroups: false,
		}
	}
	out, err := cmd.CombinedOutput()
	var pathErr *os.PathError
	if errors.As(err, &pathErr) || errors.Is(err, syscall.EPERM) || errors.Is(err, syscall.EINVAL) {
		cannotMount(t, fmt.Sprintf("cannot start a process in a mount namespace of its own (%v): a read-only mount cannot be made here", err))
	}
	if m := regexp.MustCompile(`cannot mount: .*`).Find(out); m != nil {
		cannotMount(t, string(m))
	}
	require.NoError(t, err, "in the mount namespace:\n%s", out)
	t.Logf("in the mount namespace:\n%s", out)
}

// cannotMount skips the test where no read-only mount can be made (an
// unprivileged container), and fails it where one must be:
// SPOOL_REQUIRE_MOUNT=1, which .ci/run sets.
func cannotMount(t *testing.T, why string) {
	t.Helper()
	if os.Getenv("SPOOL_REQUIRE_MOUNT") == "1" {
		t.Fatalf("%s (SPOOL_REQUIRE_MOUNT=1: this test must run here)", why)
	}
	t.Skip(why)
}

// readOnlyMountChild runs in the child: it bind-mounts SRC read-only on MNT
// and opens the databases there. Where it cannot mount, it fails saying
// "cannot mount: ", and the parent skips or fails the test.
func readOnlyMountChild(t *childtest.T, spec string) {
	src, mnt, _ := strings.Cut(spec, ":")
	// Keep the mounts in this namespace.
	if err := syscall.Mount("none", "/", "", syscall.MS_REC|syscall.MS_PRIVATE, ""); err != nil {
		t.Fatalf("cannot mount: making / private: %v", err)
	}
	if err := syscall.Mount(src, mnt, "", syscall.MS_BIND, ""); err != nil {
		t.Fatalf("cannot mount: bind %s on %s: %v", src, mnt, err)
	}
	// A remount must keep the flags the mount has (a user namespace may
	// not drop them).
	var st syscall.Statfs_t
	require.NoError(t, syscall.Statfs(mnt, &st))
	keep := uintptr(st.Flags) & (syscall.MS_NOSUID | syscall.MS_NODEV | syscall.MS_NOEXEC | syscall.MS_NOATIME | syscall.MS_NODIRATIME | syscall.MS_RELATIME)
	if err := syscall.Mount("none", mnt, "", syscall.MS_REMOUNT|syscall.MS_BIND|syscall.MS_RDONLY|keep, ""); err != nil {
		t.Fatalf("cannot mount: remount %s read-only: %v", mnt, err)
	}
	err := os.WriteFile(filepath.Join(mnt, "probe"), nil, 0o644)
	require.ErrorIs(t, err, syscall.EROFS, "the mount is not read-only")

	ctx := context.Background()
	path := filepath.Join(mnt, "backup.db")
	s, err := sqlite.Open(ctx, path, sqlite.Options{ReadOnly: true})
	require.NoError(t, err)
	defer s.Close()
	q, err := queue.New(s, queue.Options{})
	require.NoError(t, err)
	list, err := q.Inspector().List(ctx, queue.ListFilter{})
	require.NoError(t, err)
	require.Len(t, list, 1)
	require.Equal(t, "kept", string(list[0].Payload))
	_, err = q.Inspector().Stats(ctx)
	require.NoError(t, err)
	_, err = q.Enqueue(ctx, queue.NewJob{Kind: "report"})
	require.ErrorIs(t, err, queue.ErrReadOnly)

	// With a -wal the commits in it cannot be read without a -shm file:
	// refused, saying so, rather than read without them.
	copyPath := filepath.Join(mnt, "copy.db")
	_, err = sqlite.Open(ctx, copyPath, sqlite.Options{ReadOnly: true})
	require.Error(t, err)
	require.Contains(t, err.Error(), copyPath+"-wal")
	require.Contains(t, err.Error(), "writable")

	// Opening read-write fails, naming the file, and creates nothing.
	_, err = sqlite.Open(ctx, filepath.Join(mnt, "new.db"), sqlite.Options{})
	require.Error(t, err)
	require.Contains(t, err.Error(), filepath.Join(mnt, "new.db"))
	entries, err := os.ReadDir(src)
	require.NoError(t, err)
	var names []string
	for _, e := range entries {
		if !strings.HasSuffix(e.Name(), "-lock") { // the writers' turn files, left by the set-up's writable stores
			names = append(names, e.Name())
		}
	}
	require.ElementsMatch(t, []string{"backup.db", "copy.db", "copy.db-wal", "live.db"}, names, "files appeared in the mounted directory")
}
