package admin_test

import (
	"context"
	"fmt"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/spooljobs/spool/admin"
	"github.com/spooljobs/spool/queue"
)

// Bidirectional overrides, zero-width and other invisible characters and
// control characters in job data show escaped on every page, in a marked
// span in text and as the plain escape in attributes, as the spool
// command prints them.
func TestInvisibleCharactersShowEscaped(t *testing.T) {
	t.Parallel()
	e := newEnv(t, admin.Options{})
	// Every character the issue names, and a C0 and a C1 control.
	var hidden []rune
	for _, lohi := range [][2]rune{{0x202a, 0x202e}, {0x2066, 0x2069}, {0x200b, 0x200f}} {
		for r := lohi[0]; r <= lohi[1]; r++ {
			hidden = append(hidden, r)
		}
	}
	hidden = append(hidden, 0x1b, 0x07, 0x85, 0x9b)
	evil := "invoice\u202egnp.exe \x1b[2J" + string(hidden)
	id := e.dead(queue.NewJob{Kind: "k", Queue: "mail", Payload: []byte("text " + evil),
		Metadata: map[string]string{"note": evil, "key\u200b": "v"}}, "failed: "+evil, "")
	// Kinds and queue names are checked on enqueue; a row written by
	// another program (or an older version) may still hold anything.
	_, err := e.store.DB().ExecContext(context.Background(),
		`UPDATE spool_dead SET kind = ?, queue = ? WHERE id = ?`, "pay\u202eexe.kind", "mail\u2066q", id)
	require.NoError(t, err)

	for _, p := range []string{fmt.Sprintf("/jobs/%d", id), "/dead", "/", "/queues"} {
		body := e.getOK(p)
		for _, r := range hidden {
			require.NotContains(t, body, string(r), "%s: %U reaches the page", p, r)
		}
		require.NotContains(t, body, "\u202e", p)
	}
	body := e.getOK(fmt.Sprintf("/jobs/%d", id))
	span := func(r rune, code string) string {
		return fmt.Sprintf(`<span class="esc" title="U+%04X">%s</span>`, r, code)
	}
	for _, want := range []string{
		"pay" + span(0x202e, `\u202e`) + "exe.kind",                                          // kind
		"mail" + span(0x2066, `\u2066`) + "q",                                                // queue
		"failed: invoice" + span(0x202e, `\u202e`) + "gnp.exe " + span(0x1b, `\x1b`) + "[2J", // error
		"key" + span(0x200b, `\u200b`),                                                       // metadata key
		span(0x85, `\x85`) + span(0x9b, `\x9b`),                                              // C1 controls
		`data-confirm="Delete job`,
	} {
		require.Contains(t, body, want)
	}
	// In an attribute (the kind filter link's title, a confirm text) no
	// span: the plain escape.
	require.Contains(t, body, `<title>Job `)
	require.NotContains(t, body, `="<span`)
	// A page without such characters is left as it was.
	require.False(t, strings.Contains(e.getOK("/schedules"), `class="esc"`))
}
