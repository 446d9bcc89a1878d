// Package cli is the mcast command line: one file per subcommand, each a
// cobra command that defines its flags, calls a capability package and
// renders the result.
package cli

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"

	"github.com/spf13/cobra"
)

// Env is what a command may use of the outside world.
type Env struct {
	Stdin  io.Reader
	Stdout io.Writer
	Stderr io.Writer
	Getenv func(string) string
}

// aliases map argv[0] names to a subcommand (the plain sender and receiver programs).
var aliases = map[string]string{"sender": "send", "receiver": "recv"}

// UsageError is a mistake in how the command was called: exit status 2.
type UsageError struct{ Err error }

func (e UsageError) Error() string { return e.Err.Error() }
func (e UsageError) Unwrap() error { return e.Err }

func usagef(format string, a ...any) error { return UsageError{fmt.Errorf(format, a...)} }

// ExitError ends the program with Code after printing Err, if any.
type ExitError struct {
	Code int
	Err  error
}

func (e ExitError) Error() string {
	if e.Err == nil {
		return fmt.Sprintf("exit status %d", e.Code)
	}
	return e.Err.Error()
}

// Run runs the program with args (args[0] is the program name) and returns
// its exit status: 0 on success, 1 on a runtime failure, 2 on a usage error.
func Run(ctx context.Context, args []string, stdin io.Reader, stdout, stderr io.Writer) int {
	env := &Env{Stdin: stdin, Stdout: stdout, Stderr: stderr, Getenv: os.Getenv}
	prog := "mcast"
	if len(args) > 0 {
		prog, args = args[0], args[1:]
	}
	return runWith(ctx, env, prog, args)
}

// runWith runs the program called prog with args in env.
func runWith(ctx context.Context, env *Env, prog string, args []string) int {
	if sub, ok := aliases[filepath.Base(prog)]; ok {
		args = append([]string{sub}, args...)
	}
	root := newRoot(env)
	root.SetArgs(args)
	cmd, err := root.ExecuteContextC(ctx)
	return report(env.Stderr, who(cmd), err)
}

// who names the command in an error message: "mcast" and the subcommand
// below it, so that "mcast lab up" reports as "mcast lab".
func who(c *cobra.Command) string {
	if c == nil || !c.HasParent() {
		return "mcast"
	}
	for c.Parent().HasParent() {
		c = c.Parent()
	}
	return "mcast " + c.Name()
}

// report prints err as one line and picks the exit status.
func report(stderr io.Writer, who string, err error) int {
	if err == nil {
		return 0
	}
	var ee ExitError
	if errors.As(err, &ee) {
		if ee.Err != nil {
			fmt.Fprintf(stderr, "%s: %s\n", who, oneLine(ee.Err.Error()))
		}
		return ee.Code
	}
	fmt.Fprintf(stderr, "%s: %s\n", who, oneLine(err.Error()))
	var ue UsageError
	if errors.As(err, &ue) {
		return 2
	}
	return 1
}

func oneLine(s string) string {
	return strings.Join(strings.Fields(strings.ReplaceAll(s, "\n", " ")), " ")
}
