// Package httpsrv builds the http.Server that spool's programs (the spool
// admin command, the shop demo) serve with: one with read, write and idle
// timeouts, so that a slow or idle client cannot hold a connection open.
// It also holds SlowHeaders, the check their tests use for that.
package httpsrv

import (
	"errors"
	"fmt"
	"net"
	"net/http"
	"os"
	"strconv"
	"strings"
	"time"
)

// Timeouts are an http.Server's timeouts. A zero field takes its default.
type Timeouts struct {
	// ReadHeader bounds reading a request's headers. Defaults to 10s.
	ReadHeader time.Duration
	// Read bounds reading a whole request, body included. Defaults to 30s.
	Read time.Duration
	// Write bounds writing a response, from the end of the request's
	// headers. Defaults to 2m (a raw payload download of 100 MB over a slow
	// link takes a while).
	Write time.Duration
	// Idle bounds how long a kept-alive connection waits for its next
	// request. Defaults to 2m.
	Idle time.Duration
}

// Default timeouts.
const (
	DefaultReadHeader = 10 * time.Second
	DefaultRead       = 30 * time.Second
	DefaultWrite      = 2 * time.Minute
	DefaultIdle       = 2 * time.Minute
)

// Server returns a server for h with the timeouts t, defaults applied.
func (t Timeouts) Server(h http.Handler) *http.Server {
	or := func(d, def time.Duration) time.Duration {
		if d > 0 {
			return d
		}
		return def
	}
	return &http.Server{
		Handler:           h,
		ReadHeaderTimeout: or(t.ReadHeader, DefaultReadHeader),
		ReadTimeout:       or(t.Read, DefaultRead),
		WriteTimeout:      or(t.Write, DefaultWrite),
		IdleTimeout:       or(t.Idle, DefaultIdle),
	}
}

// SlowHeaders plays a client that sends a request's headers one byte at a
// time and never finishes them. It returns nil once the server at addr
// closes the connection, and an error when the server still holds it open
// after limit, or after the whole (long) header has been sent.
func SlowHeaders(addr string, limit time.Duration) error {
	return drip(addr, nil, []byte("GET / HTTP/1.1\r\nHost: x\r\nX-Slow: "+strings.Repeat("a", 8<<10)), limit)
}

// SlowBody plays a client that sends a POST's headers to path at once and
// then its (form) body one byte at a time, never finishing it. It returns
// nil once the server at addr closes the connection, and an error when the
// server still holds it open after limit.
func SlowBody(addr, path string, limit time.Duration) error {
	const size = 64 << 10
	head := "POST " + path + " HTTP/1.1\r\nHost: x\r\nContent-Type: application/x-www-form-urlencoded\r\nContent-Length: " +
		strconv.Itoa(size) + "\r\n\r\n"
	return drip(addr, []byte(head), []byte(strings.Repeat("a", size-1)), limit)
}

// drip sends head at once and then slow one byte at a time, spaced by
// short waits for the server to close the connection.
func drip(addr string, head, slow []byte, limit time.Duration) error {
	conn, err := net.DialTimeout("tcp", addr, limit)
	if err != nil {
		return err
	}
	defer conn.Close()
	giveUp := time.Now().Add(limit)
	if _, err := conn.Write(head); err != nil {
		return fmt.Errorf("send the request's start: %w", err)
	}
	buf := make([]byte, 512)
	for _, c := range slow {
		if time.Now().After(giveUp) {
			return fmt.Errorf("the server at %s still holds a connection after %s of bytes sent one at a time", addr, limit)
		}
		if _, err := conn.Write([]byte{c}); err != nil {
			return nil // closed by the server
		}
		// Wait a little for the server to close the connection, which also
		// spaces the bytes out.
		conn.SetReadDeadline(time.Now().Add(10 * time.Millisecond))
		_, err := conn.Read(buf)
		switch {
		case err == nil:
			// A response (408, 400) before the close: read on to the close.
			continue
		case errors.Is(err, os.ErrDeadlineExceeded):
			continue
		default:
			return nil // EOF or reset: closed
		}
	}
	return fmt.Errorf("the server at %s read %d bytes sent one at a time without closing the connection", addr, len(slow))
}
