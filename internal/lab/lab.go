package lab

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"syscall"
)

// StateDir is where a lab records what it made, so that Down can remove it
// even after an interrupted Up.
var StateDir = "/run/mcast/lab"

// State is what a lab records about itself.
type State struct {
	Name       string   `json:"name"`
	Topology   Topology `json:"topology"`
	Namespaces []string `json:"namespaces"`
}

// ErrNotRoot is returned when the caller cannot create namespaces.
var ErrNotRoot = errors.New("needs root: creating network namespaces takes CAP_SYS_ADMIN and CAP_NET_ADMIN; run it as root")

// CheckRoot fails with ErrNotRoot unless running as root.
func CheckRoot() error {
	if os.Geteuid() != 0 {
		return ErrNotRoot
	}
	return nil
}

func statePath(name string) string { return filepath.Join(StateDir, name+".json") }

// Load reads the state of the lab called name.
func Load(name string) (State, error) {
	b, err := os.ReadFile(statePath(name))
	if errors.Is(err, os.ErrNotExist) {
		return State{}, fmt.Errorf("lab %q is not up (start it with: mcast lab up TOPOLOGY --name %s)", name, name)
	}
	if err != nil {
		return State{}, fmt.Errorf("reading lab %q: %w", name, err)
	}
	var s State
	if err := json.Unmarshal(b, &s); err != nil {
		return State{}, fmt.Errorf("reading lab %q: %s is corrupt: %w", name, statePath(name), err)
	}
	return s, nil
}

// List returns every lab that has state, sorted by name.
func List() ([]State, error) {
	ents, err := os.ReadDir(StateDir)
	if errors.Is(err, os.ErrNotExist) {
		return nil, nil
	}
	if err != nil {
		return nil, fmt.Errorf("listing labs: %w", err)
	}
	var out []State
	for _, e := range ents {
		if name, ok := strings.CutSuffix(e.Name(), ".json"); ok {
			if s, err := Load(name); err == nil {
				out = append(out, s)
			}
		}
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Name < out[j].Name })
	return out, nil
}

// Up builds topology t as lab name. On failure it removes what it made.
// log, when not nil, receives each command as it runs.
func Up(ctx context.Context, name string, t Topology, log io.Writer) error {
	if err := CheckRoot(); err != nil {
		return err
	}
	if err := ValidName(name); err != nil {
		return err
	}
	if err := t.Validate(); err != nil {
		return err
	}
	if _, err := os.Stat(statePath(name)); err == nil {
		return fmt.Errorf("lab %q is already up (remove it with: mcast lab down --name %s)", name, name)
	}
	for _, ns := range t.Namespaces(name) {
		if _, err := os.Stat(filepath.Join("/run/netns", ns)); err == nil {
			return fmt.Errorf("network namespace %q already exists; not touching it (is another lab named %q up? mcast lab down --name %s)", ns, name, name)
		}
	}
	s := State{Name: name, Topology: t, Namespaces: t.Namespaces(name)}
	if err := os.MkdirAll(StateDir, 0o755); err != nil {
		return fmt.Errorf("creating %s: %w", StateDir, err)
	}
	b, _ := json.MarshalIndent(s, "", "  ")
	if err := os.WriteFile(statePath(name), b, 0o644); err != nil {
		return fmt.Errorf("recording lab %q: %w", name, err)
	}
	for _, step := range t.Plan(name) {
		if log != nil {
			fmt.Fprintln(log, step)
		}
		if err := runIP(ctx, step); err != nil {
			_ = Down(context.WithoutCancel(ctx), name)
			return fmt.Errorf("building lab %q: %w", name, err)
		}
	}
	return nil
}

// Down removes every namespace of lab name, ending the processes still
// running inside them, and forgets the lab.
func Down(ctx context.Context, name string) error {
	if err := CheckRoot(); err != nil {
		return err
	}
	s, err := Load(name)
	if err != nil {
		return err
	}
	var errs []error
	// Nodes first, then switches, so processes go before their links.
	for i := len(s.Namespaces) - 1; i >= 0; i-- {
		ns := s.Namespaces[i]
		if _, err := os.Stat(filepath.Join("/run/netns", ns)); err != nil {
			continue
		}
		killAll(ctx, ns)
		if err := runIP(ctx, Step{"netns", "del", ns}); err != nil {
			errs = append(errs, err)
		}
	}
	if len(errs) == 0 {
		if err := os.Remove(statePath(name)); err != nil && !errors.Is(err, os.ErrNotExist) {
			errs = append(errs, err)
		}
	}
	return errors.Join(errs...)
}

// killAll ends the processes left in namespace ns (all of them started
// inside the lab).
func killAll(ctx context.Context, ns string) {
	out, err := exec.CommandContext(ctx, "ip", "netns", "pids", ns).Output()
	if err != nil {
		return
	}
	for _, f := range strings.Fields(string(out)) {
		if pid, err := strconv.Atoi(f); err == nil && pid > 1 && pid != os.Getpid() {
			_ = syscall.Kill(pid, syscall.SIGKILL)
		}
	}
}

// Node finds a node of the lab by name.
func (s State) Node(name string) (Node, error) {
	for _, n := range s.Topology.Nodes {
		if n.Name == name {
			return n, nil
		}
	}
	return Node{}, fmt.Errorf("unknown node %q in lab %q (nodes: %s)", name, s.Name, strings.Join(s.Topology.NodeNames(), ", "))
}

// Command returns a command that runs argv inside node of lab s.
func (s State) Command(ctx context.Context, node string, argv []string) (*exec.Cmd, error) {
	if _, err := s.Node(node); err != nil {
		return nil, err
	}
	if len(argv) == 0 {
		return nil, fmt.Errorf("no command to run on node %s", node)
	}
	args := append([]string{"netns", "exec", Namespace(s.Name, node)}, argv...)
	return exec.CommandContext(ctx, "ip", args...), nil
}

func runIP(ctx context.Context, step Step) error {
	out, err := exec.CommandContext(ctx, "ip", step...).CombinedOutput()
	if err != nil {
		msg := strings.TrimSpace(string(out))
		if msg == "" {
			msg = err.Error()
		}
		return fmt.Errorf("%s: %s", step, msg)
	}
	return nil
}
