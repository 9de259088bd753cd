package main

// The multiproc parent's children: starting them together and collecting
// their results.

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"strconv"
	"strings"
	"sync"
)

// child is one running child process.
type child struct {
	n     int
	cmd   *exec.Cmd
	stdin io.WriteCloser
	out   *bufio.Reader
}

// runChildren starts the children, waits until every one is ready, starts
// them together and collects their results.
func runChildren(ctx context.Context, cfg benchConfig, exe, dir, path string, logw *lockedWriter) ([]multiprocProc, error) {
	var children []*child
	defer func() {
		// On an early return, end the children still running.
		for _, c := range children {
			if c.cmd.ProcessState == nil {
				c.cmd.Process.Kill()
				c.cmd.Wait()
			}
		}
	}()
	for n := 1; n <= cfg.procs; n++ {
		c, err := startChild(ctx, cfg, exe, dir, path, n, logw)
		if err != nil {
			return nil, err
		}
		children = append(children, c)
	}
	if err := startTogether(children); err != nil {
		return nil, err
	}
	return collectResults(ctx, children)
}

// startChild starts child n, its stderr prefixed on logw.
func startChild(ctx context.Context, cfg benchConfig, exe, dir, path string, n int, logw *lockedWriter) (*child, error) {
	args := []string{"bench", "-scenario", "multiproc",
		"-mp-child", strconv.Itoa(n), "-mp-dir", dir, "-db", path, "-procs", strconv.Itoa(cfg.procs),
		"-duration", cfg.duration.String(), "-producers", strconv.Itoa(cfg.producers),
		"-workers", strconv.Itoa(cfg.workers), "-lease", cfg.lease.String(),
		"-busy-timeout", cfg.busyTimeout.String()}
	if cfg.backlog > 0 {
		args = append(args, "-backlog", strconv.Itoa(cfg.backlog))
	}
	if cfg.cpuProfile != "" {
		// Each child profiles its own window, to FILE.N.
		args = append(args, "-cpuprofile", fmt.Sprintf("%s.%d", cfg.cpuProfile, n))
	}
	cmd := exec.CommandContext(ctx, exe, args...)
	// Interrupted, the children stop early and still report.
	cmd.Cancel = func() error { return cmd.Process.Signal(os.Interrupt) }
	cmd.WaitDelay = 2 * multiprocStopTimeout
	cmd.Stderr = &prefixWriter{prefix: fmt.Sprintf("proc %d: ", n), w: logw}
	stdin, err := cmd.StdinPipe()
	if err != nil {
		return nil, err
	}
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		return nil, err
	}
	if err := cmd.Start(); err != nil {
		return nil, fmt.Errorf("multiproc: start child %d: %w", n, err)
	}
	return &child{n: n, cmd: cmd, stdin: stdin, out: bufio.NewReaderSize(stdout, 1<<16)}, nil
}

// startTogether waits until every child is ready, then sends each the
// start line.
func startTogether(children []*child) error {
	for _, c := range children {
		line, err := c.out.ReadString('\n')
		if strings.TrimSpace(line) != multiprocReady {
			return fmt.Errorf("multiproc: child %d did not get ready (read %q, %v); its stderr is above", c.n, line, err)
		}
	}
	for _, c := range children {
		if _, err := io.WriteString(c.stdin, multiprocGo+"\n"); err != nil {
			return fmt.Errorf("multiproc: start child %d: %w", c.n, err)
		}
		c.stdin.Close()
	}
	return nil
}

// collectResults reads each child's JSON line of results and waits for it
// to exit.
func collectResults(ctx context.Context, children []*child) ([]multiprocProc, error) {
	procs := make([]multiprocProc, len(children))
	var failed []string
	for i, c := range children {
		line, rerr := c.out.ReadString('\n')
		io.Copy(io.Discard, c.out)
		werr := c.cmd.Wait()
		if werr != nil || rerr != nil {
			failed = append(failed, fmt.Sprintf("child %d: %v", c.n, errors.Join(werr, rerr)))
			continue
		}
		if err := json.Unmarshal([]byte(line), &procs[i]); err != nil {
			failed = append(failed, fmt.Sprintf("child %d printed %.80q, not its results: %v", c.n, line, err))
		}
	}
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	if len(failed) > 0 {
		return nil, fmt.Errorf("multiproc: %s (their stderr is above)", strings.Join(failed, "; "))
	}
	return procs, nil
}

// lockedWriter serialises writes of whole lines from several children.
type lockedWriter struct {
	mu sync.Mutex
	w  io.Writer
}

// Write writes p to the underlying writer, one call at a time.
func (l *lockedWriter) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.w.Write(p)
}

// prefixWriter writes each complete line it is given to w with prefix in
// front; a child's stderr goes through one.
type prefixWriter struct {
	prefix string
	w      io.Writer
	buf    []byte
}

// Write passes on the complete lines of b and keeps the rest for the
// next call.
func (p *prefixWriter) Write(b []byte) (int, error) {
	p.buf = append(p.buf, b...)
	for {
		i := bytes.IndexByte(p.buf, '\n')
		if i < 0 {
			return len(b), nil
		}
		line := append([]byte(p.prefix), p.buf[:i+1]...)
		if _, err := p.w.Write(line); err != nil {
			return len(b), err
		}
		p.buf = p.buf[i+1:]
	}
}
