package jobcodec_test

import (
	"fmt"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/spooljobs/spool/internal/jobcodec"
	"github.com/spooljobs/spool/queue"
)

// Appending to a stored history decodes it, bounds it as
// queue.AppendAttemptError does and encodes it again; an empty column is
// an empty history, and a broken one is an error.
func TestAppendError(t *testing.T) {
	t.Parallel()
	t0 := time.Unix(1_700_000_000, 0).UTC()
	col := ""
	for i := 1; i <= queue.ErrorsKeptFirst+queue.ErrorsKeptLast+2; i++ {
		var err error
		col, err = jobcodec.AppendError(col, queue.AttemptError{At: t0.Add(time.Duration(i) * time.Second), Attempt: i, Message: fmt.Sprint("fail ", i)})
		require.NoError(t, err)
	}
	kept, dropped, err := jobcodec.DecodeErrors(col)
	require.NoError(t, err)
	require.Len(t, kept, queue.ErrorsKeptFirst+queue.ErrorsKeptLast)
	require.Equal(t, 2, dropped)
	require.Equal(t, 1, kept[0].Attempt)
	require.Equal(t, 4, kept[1].Attempt)
	require.Equal(t, "fail 12", kept[len(kept)-1].Message)

	_, err = jobcodec.AppendError("{", queue.AttemptError{Attempt: 1})
	require.Error(t, err)
}
