package childtest

import (
	"bufio"
	"fmt"
	"io"
	"os"
	"strings"
)

// stdin is the child's stdin, read by ReadLine and AwaitClose: one buffered
// reader, so that a line read ahead is not lost to the other.
var stdin = bufio.NewReader(os.Stdin)

// Say writes line to the child's stdout, where the parent reads it with
// Child.Line or Child.Expect. It runs in the child.
func Say(line string) {
	fmt.Println(line)
}

// ReadLine reads the next line the parent wrote with Child.Say, without its
// newline; io.EOF means the parent closed the child's stdin (or died). It
// runs in the child.
func ReadLine() (string, error) {
	line, err := stdin.ReadString('\n')
	if err != nil {
		if err == io.EOF && line != "" {
			err = io.ErrUnexpectedEOF
		}
		return "", err
	}
	return strings.TrimSuffix(line, "\n"), nil
}

// AwaitClose blocks until the parent closes the child's stdin (or dies),
// discarding what it writes. It runs in the child.
func AwaitClose() error {
	_, err := io.Copy(io.Discard, stdin)
	return err
}
