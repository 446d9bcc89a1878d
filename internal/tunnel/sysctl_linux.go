package tunnel

import (
	"fmt"
	"os"
	"path/filepath"
	"strings"
)

func sysctlPath(key string) string {
	return filepath.Join("/proc/sys", strings.ReplaceAll(key, ".", "/"))
}

func readSysctl(key string) (string, error) {
	b, err := os.ReadFile(sysctlPath(key))
	if err != nil {
		return "", fmt.Errorf("reading sysctl %s: %w", key, err)
	}
	return strings.TrimSpace(string(b)), nil
}

func writeSysctl(key, value string) error {
	if err := os.WriteFile(sysctlPath(key), []byte(value), 0o644); err != nil {
		return fmt.Errorf("sysctl -w %s=%s: %w", key, value, err)
	}
	return nil
}

// ensureSysctls sets the sysctls s asks for. Before it changes any, it
// records the values they had in the overlay device's alias, for Down to
// put back: killed at any point, up leaves no sysctl changed and unrecorded.
func (k *kernel) ensureSysctls(s State, u *undo) error {
	dev, err := k.link(s.Device)
	if err != nil || dev == nil {
		return fmt.Errorf("device %s missing: %v", s.Device, err)
	}
	restores := Restores(dev.Attrs().Alias)
	var changes, olds []Sysctl
	for _, sc := range s.Sysctls {
		cur, err := readSysctl(sc.Key)
		if err != nil {
			return err
		}
		if cur == sc.Value {
			continue
		}
		changes, olds = append(changes, sc), append(olds, Sysctl{Key: sc.Key, Value: cur})
		known := false
		for _, r := range restores {
			known = known || r.Key == sc.Key
		}
		if !known {
			restores = append(restores, Sysctl{Key: sc.Key, Value: cur})
		}
	}
	if alias := WithRestores(dev.Attrs().Alias, restores); alias != dev.Attrs().Alias {
		if err := k.h.LinkSetAlias(dev, alias); err != nil {
			return fmt.Errorf("recording the old sysctl values in the alias of %s: %w", s.Device, err)
		}
	}
	for i, sc := range changes {
		if err := writeSysctl(sc.Key, sc.Value); err != nil {
			return err
		}
		old := olds[i]
		u.push(func() { _ = writeSysctl(old.Key, old.Value) })
		k.did(sc.setCmd())
	}
	return nil
}
